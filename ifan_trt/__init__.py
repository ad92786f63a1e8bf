"""ifan-trt: IFAN single-image defocus deblurring, from PyTorch checkpoints to TensorRT engines.

`from ifan_trt import Deblurrer` is the Python API (ifan_trt.runtime.deblurrer); it is imported
on first use, so `import ifan_trt` stays light (no torch, no ONNX Runtime)."""

__version__ = "0.1.0"


def __getattr__(name):
    if name == "Deblurrer":
        from .runtime.deblurrer import Deblurrer  # the package's one upward import: a lazy facade

        return Deblurrer
    raise AttributeError(f"module 'ifan_trt' has no attribute {name!r}")
