"""ifan-trt: IFAN single-image defocus deblurring, from PyTorch checkpoints to TensorRT engines.

The Python API: `ifan_trt.Model` (ifan_trt.jobs.model: export, precision, build, inspect, profile,
benchmark, and deblurring by calling it) and `ifan_trt.Deblurrer` (ifan_trt.runtime.images.deblurrer: a
model opened once on a backend, for images, files, videos and frame streams). Both are imported
on first use, so `import ifan_trt` stays light (no torch, no ONNX Runtime)."""

__version__ = "0.1.0"


def __getattr__(name):
    if name == "Deblurrer":
        from .runtime.images.deblurrer import Deblurrer  # the package's one upward import: a lazy facade

        return Deblurrer
    if name == "Model":
        from .jobs.model import Model  # the jobs' Python API, lazily too

        return Model
    raise AttributeError(f"module 'ifan_trt' has no attribute {name!r}")
