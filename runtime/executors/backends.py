"""Choosing and opening an executor from what the user gave (checkpoint, ONNX, engine).

`auto`: TensorRT when an engine is given and engines can run here (`engines_unavailable`, the one
judge: TensorRT, a CUDA binding and a GPU); an ONNX model on ONNX Runtime (on the CPU
unless its CUDA provider is installed); a checkpoint on PyTorch. With no model, the bundled one on
the fastest installed backend: its ONNX export on ONNX Runtime, else its checkpoint on PyTorch.

Nothing is substituted silently: a named model that is missing or unreadable is an error, and the
one fallback (an engine where engines cannot run runs the ONNX model its sidecar records) happens
only under `auto` and is announced in one line, with the reason.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from ifan_trt.errors import IfanError
from ifan_trt.log import get as get_logger
from ifan_trt.models import ModelRef, bundled

from ..interface.executor import Executor
from ..model_files.sidecar import recorded_onnx

log = get_logger(__name__)

BACKENDS = ("auto", "tensorrt", "onnxruntime", "torch")
_ALIASES = {"trt": "tensorrt", "ort": "onnxruntime", "pytorch": "torch"}


def default_checkpoint() -> str:
    return str(bundled("checkpoint"))


def gpu_count() -> int:
    """CUDA devices visible (0 without a driver or a working binding)."""
    from ifan_trt.runtime.tensorrt.cuda import gpu_count as count

    return count()


def default_onnx(required: bool = True) -> str | None:
    path = bundled("onnx", required=required)
    return None if path is None else str(path)


def named_model(kind: str, path: str | os.PathLike | None, option: str | None = None) -> str | None:
    """The file a --checkpoint/--onnx/--engine value names: `default` is the bundled model; a
    missing, non-regular or unreadable file is an error naming the option (default --KIND)."""
    if path is None:
        return None
    ref = ModelRef.parse(path, kind, option or f"--{kind}")
    return str(ref.path) if ref.default else str(path)


def _auto_engine(engine: str) -> tuple[str, str]:
    why = engines_unavailable()
    if why is None:
        return "tensorrt", engine
    fallback = recorded_onnx(engine)
    if not fallback:
        raise IfanError(f"{engine}: a TensorRT engine cannot run here: {why}; "
                        "pass the ONNX model with --onnx to run on the CPU")
    log.warning(f"{engine} cannot run here: {why}; --backend auto runs the ONNX model it was built from, "
                f"{fallback}, on ONNX Runtime instead")
    return "onnxruntime", fallback


def _no_model(backend: str) -> tuple[str, str]:
    """The bundled model on the backend asked for, or on the fastest installed one."""
    if backend == "tensorrt":
        raise IfanError("--backend tensorrt runs an engine: pass --engine FILE (build it with `ifan build`)")
    if backend == "onnxruntime" or (backend == "auto" and importlib.util.find_spec("onnxruntime")
                                    and default_onnx(required=False)):
        return "onnxruntime", default_onnx()
    return "torch", default_checkpoint()


def resolve_backend(backend: str, checkpoint: str | None, onnx: str | None, engine: str | None) -> tuple[str, str]:
    """(backend, model path) for a request. Under `auto` an engine runs on TensorRT only where
    `engines_unavailable()` finds nothing missing."""
    backend = _ALIASES.get(backend, backend)
    if backend not in BACKENDS:
        raise IfanError(f"unknown backend {backend!r}; available: {', '.join(BACKENDS)}")
    if len([x for x in (checkpoint, onnx, engine) if x]) > 1:
        raise IfanError("give one model: --checkpoint, --onnx or --engine")
    checkpoint, onnx, engine = (named_model(kind, path) for kind, path in
                                (("checkpoint", checkpoint), ("onnx", onnx), ("engine", engine)))
    if not (checkpoint or onnx or engine):
        return _no_model(backend)
    if backend == "tensorrt" and not engine:
        raise IfanError("--backend tensorrt runs an engine: pass --engine FILE (build it with `ifan build`)")
    if backend == "onnxruntime" and not onnx:
        hint = f" ({engine} was built from {recorded_onnx(engine)})" if engine and recorded_onnx(engine) else ""
        raise IfanError(f"--backend onnxruntime runs an ONNX model: pass --onnx FILE{hint}")
    if backend == "torch" and not checkpoint:
        raise IfanError("--backend torch runs a checkpoint: pass --checkpoint FILE, not an ONNX model or engine")
    if engine:
        return _auto_engine(engine) if backend == "auto" else ("tensorrt", engine)
    return ("onnxruntime", onnx) if onnx else ("torch", checkpoint)


def open_executor(backend: str = "auto", checkpoint: str | None = None, in_bit: int | None = None,
                  iac_mode: str | None = None, threads: int | None = None, onnx: str | None = None,
                  engine: str | None = None, device: str = "auto", plugin: str | None = None,
                  cuda: str = "auto") -> Executor:
    """The executor for a request; `model_path` says which file really runs."""
    backend, path = resolve_backend(backend, checkpoint, onnx, engine)
    if backend == "tensorrt":
        from ifan_trt.runtime.tensorrt.executor import TrtExecutor

        executor = TrtExecutor(path, cuda=cuda, plugin=plugin)
    elif backend == "onnxruntime":
        from .ort_executor import OrtExecutor

        executor = OrtExecutor(path, device=device, threads=threads)
    else:
        from .torch_executor import TorchExecutor

        executor = TorchExecutor(path, in_bit=in_bit, iac_mode=iac_mode, threads=threads)
    executor.model_path = path
    return executor


def model_label(path: str) -> str:
    """`default (file name)` for the bundled model's files, else the path as given."""
    import ifan_trt.weights

    if path and Path(path).resolve().parent == Path(ifan_trt.weights.__file__).resolve().parent:
        return f"default ({Path(path).name})"
    return str(path)


def run_summary(executor: Executor) -> str:
    """One line: which model, backend, device and precision really run, and how sizes are met."""
    line = f"{model_label(getattr(executor, 'model_path', '') or '?')} on {executor.describe()}"
    limits = executor.limits
    if limits.max_hw is not None and limits.min_hw == limits.max_hw:
        line += f"; static input {limits.min_hw[0]}x{limits.min_hw[1]}: other sizes are padded or tiled to it"
    if limits.max_batch is not None and limits.min_batch == limits.max_batch and limits.max_batch > 1:
        line += f"; fixed batch {limits.max_batch}"
    return line


def _importable(name: str) -> bool:
    """name can be imported (a module already in sys.modules counts, with or without a spec)."""
    if name in sys.modules:
        return sys.modules[name] is not None
    return importlib.util.find_spec(name) is not None


def engines_unavailable() -> str | None:
    """Why TensorRT engines cannot run here, in one line (no TensorRT, no CUDA binding, a binding
    that cannot reach the driver, no GPU), or None when they can. Imports no TensorRT."""
    if not _importable("tensorrt"):
        return "TensorRT is not installed (pip install 'ifan-trt[trt]'; on a Jetson it comes with JetPack)"
    from ifan_trt.runtime.tensorrt.cuda import available_implementations, probe_gpus

    if not available_implementations():
        return "no CUDA binding is installed (cuda-python or pycuda; see the install instructions)"
    probe = probe_gpus()
    if probe.count > 0:
        return None
    if probe.problem:
        return f"the CUDA binding cannot reach the driver ({probe.problem})"
    return "no CUDA GPU visible"
