"""Choosing and opening an executor from what the user gave (checkpoint, ONNX, engine).

`auto`: TensorRT when an engine and a GPU are there, else ONNX Runtime (on the CPU unless its CUDA
provider is installed), else PyTorch when only a checkpoint (or nothing: the bundled model) is given.
"""

from __future__ import annotations

import sys

from ifan_trt.errors import IfanError

from .executor import Executor
from .tensorrt.sidecar import recorded_onnx

BACKENDS = ("auto", "tensorrt", "onnxruntime", "torch")
_ALIASES = {"trt": "tensorrt", "ort": "onnxruntime", "pytorch": "torch"}


def default_checkpoint() -> str:
    try:
        from ifan_trt.weights import default_checkpoint_path
    except ImportError:
        raise IfanError("no default model is bundled with this install; pass --checkpoint FILE") from None
    return str(default_checkpoint_path())


def resolve_backend(backend: str, checkpoint: str | None, onnx: str | None, engine: str | None,
                    gpu: bool | None = None) -> tuple[str, str | None]:
    """(backend, model path) for a request; `gpu` is probed when None. Pure logic, tested on CPU."""
    backend = _ALIASES.get(backend, backend)
    if backend not in BACKENDS:
        raise IfanError(f"unknown backend {backend!r}; available: {', '.join(BACKENDS)}")
    given = [x for x in (checkpoint, onnx, engine) if x]
    if len(given) > 1:
        raise IfanError("give one model: --checkpoint, --onnx or --engine")
    if backend == "tensorrt":
        if not engine:
            raise IfanError("--backend tensorrt runs an engine: pass --engine FILE (build it with `ifan build`)")
        return backend, engine
    if backend == "onnxruntime":
        if engine:
            onnx = recorded_onnx(engine)
        if not onnx:
            raise IfanError("--backend onnxruntime runs an ONNX model: pass --onnx FILE (export it with `ifan export`)")
        return backend, onnx
    if backend == "torch":
        if onnx or engine:
            raise IfanError("--backend torch runs a checkpoint: pass --checkpoint FILE, not an ONNX model or engine")
        return backend, checkpoint
    # auto
    if engine:
        if gpu is None:
            from ifan_trt.runtime.tensorrt.cuda import gpu_count

            gpu = gpu_count() > 0
        if gpu:
            return "tensorrt", engine
        fallback = recorded_onnx(engine)
        if not fallback:
            raise IfanError(f"{engine}: a TensorRT engine needs an NVIDIA GPU and none was found; "
                            "pass the ONNX model with --onnx to run on the CPU")
        print(f"ifan: no GPU for {engine}; running {fallback} with ONNX Runtime on the CPU", file=sys.stderr)
        return "onnxruntime", fallback
    if onnx:
        return "onnxruntime", onnx
    return "torch", checkpoint


def open_executor(backend: str = "auto", checkpoint: str | None = None, in_bit: int | None = None,
                  iac_mode: str | None = None, threads: int | None = None, onnx: str | None = None,
                  engine: str | None = None, device: str = "auto", plugin: str | None = None,
                  cuda: str = "auto") -> Executor:
    backend, path = resolve_backend(backend, checkpoint, onnx, engine)
    if backend == "tensorrt":
        from ifan_trt.runtime.tensorrt.executor import TrtExecutor

        return TrtExecutor(path, cuda=cuda, plugin=plugin)
    if backend == "onnxruntime":
        from .ort_executor import OrtExecutor

        return OrtExecutor(path, device=device, threads=threads)
    from .torch_executor import TorchExecutor

    return TorchExecutor(path or default_checkpoint(), in_bit=in_bit, iac_mode=iac_mode, threads=threads)
