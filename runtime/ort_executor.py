"""ONNX Runtime backend: the exported model on the CPU, or on ONNX Runtime's CUDA / TensorRT
execution providers when the installed build has them. Works for both IAC forms: the standard-op
graph runs anywhere; the plugin-node graph (op IFAN_IAC) runs through ifan_trt.export's session
helper, which supplies a CPU implementation of the node."""

from __future__ import annotations

import os
import time

import numpy as np

from ifan_trt.contract import PLUGIN_OP
from ifan_trt.errors import IfanError
from ifan_trt.files import require_regular_file

from .executor import Executor, ShapeLimits
from .metadata import info_from_metadata

DEVICES = ("auto", "cpu", "cuda", "tensorrt")
_PROVIDERS = {
    "cpu": ["CPUExecutionProvider"],
    "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "tensorrt": ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
}
_NP_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}


def providers_for(device: str, available: list[str]) -> list[str]:
    """Execution providers for a device choice; "auto" takes CUDA when the build has it."""
    if device not in DEVICES:
        raise IfanError(f"unknown ONNX Runtime device {device!r}; choose one of {', '.join(DEVICES)}")
    if device == "auto":
        device = "cuda" if "CUDAExecutionProvider" in available else "cpu"
    wanted = _PROVIDERS[device]
    if wanted[0] not in available:
        raise IfanError(f"this onnxruntime build has no {wanted[0]} (it has {', '.join(available)}); "
                        "install onnxruntime-gpu for CUDA/TensorRT, or use --device cpu")
    return wanted


def _session_options(ort, threads: int | None):
    from ifan_trt.noise import ort_severity

    options = ort.SessionOptions()
    options.log_severity_level = ort_severity()  # warnings only with --verbose
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # CPU defaults measured by bench/ (bench/README.md): no memory pattern (it reserves
    # the run's peak as one extra block) and a CPU arena that grows by what is asked, not by
    # doubling: same speed, a lower peak RSS; idle intra-op threads sleep instead of spinning
    # (faster when the cores are shared, e.g. with the demo's capture and display threads)
    options.enable_mem_pattern = False
    _lean_cpu_arena(ort, options)
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return options


_arena_registered = False


def _lean_cpu_arena(ort, options) -> None:
    """Sessions share one process-wide CPU arena with the kSameAsRequested extend strategy."""
    global _arena_registered
    if not _arena_registered:
        info = ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT)
        ort.create_and_register_allocator(info, ort.OrtArenaCfg(0, 1, -1, -1))  # 1: kSameAsRequested
        _arena_registered = True
    options.add_session_config_entry("session.use_env_allocators", "1")


def _uses_plugin_node(path: str) -> bool:
    """True when the graph holds an IFAN_IAC node (cheap check of the op names in the file)."""
    with open(path, "rb") as fh:
        return PLUGIN_OP.encode() in fh.read()


def _cpu_model(path: str):
    """The graph with the CPU rewrites applied (export/cpu_rewrites.py), or None when there is
    nothing to rewrite or onnx is not installed (then the file runs as it is)."""
    try:
        import onnx
    except ImportError:
        return None, {}
    from ifan_trt.export.cpu_rewrites import optimise_for_cpu

    model, applied = optimise_for_cpu(onnx.load(path))
    return (model if applied else None), applied


def _return_freed_memory() -> None:
    """glibc keeps the pages of the rewrite's freed protobufs (~150 MB for the official model);
    hand them back so that they do not add to the peak of every later run."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to trim
        pass


def create_session(path: str, providers: list[str], threads: int | None = None, cpu_rewrites: dict | None = None):
    """A session for the file; on the CPU provider the graph is rewritten first (cpu_rewrites, if
    given, receives what was applied). ONNX Runtime prints its provider fallback on stdout: kept
    for --verbose."""
    from ifan_trt.noise import python_prints_silenced

    with python_prints_silenced():
        return _create_session(path, providers, threads, cpu_rewrites)


def _create_session(path: str, providers: list[str], threads: int | None, cpu_rewrites: dict | None):
    import onnxruntime as ort

    try:
        if providers[0] == "CPUExecutionProvider":
            model, applied = _cpu_model(path)
            if cpu_rewrites is not None:
                cpu_rewrites.update(applied)
            if model is None:
                _return_freed_memory()  # the graph read to decide
            else:
                data = model.SerializeToString()
                del model
                session = ort.InferenceSession(data, sess_options=_session_options(ort, threads), providers=providers)
                del data
                _return_freed_memory()
                return session
        if _uses_plugin_node(path):
            try:
                from ifan_trt.export.ort_plugin import ort_session  # a CPU kernel for the IFAN_IAC node
            except ImportError as exc:
                raise IfanError(f"{path}: holds the IFAN_IAC plugin node; running it on ONNX Runtime needs "
                                f"onnx and onnxruntime-extensions ({exc.name} is missing), or export with "
                                "--iac-form onnx") from None
            return ort_session(path, providers=providers, threads=threads)
        return ort.InferenceSession(path, sess_options=_session_options(ort, threads), providers=providers)
    except IfanError:
        raise
    except Exception as exc:  # onnxruntime and onnx raise their own types for bad files
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise IfanError(f"{path}: ONNX Runtime cannot load it ({first})") from None


def _static_limits(shape) -> ShapeLimits:
    """A graph exported with a fixed batch or size takes only that: the pipeline tiles or pads to it."""
    dims = [d if isinstance(d, int) and d > 0 else None for d in list(shape)[:4]] + [None] * 4
    batch, h, w = dims[0], dims[2], dims[3]
    hw = (h, w) if h and w else None
    return ShapeLimits(min_batch=batch or 1, max_batch=batch, min_hw=hw or (8, 8), max_hw=hw)


class OrtExecutor(Executor):
    backend = "onnxruntime"

    def __init__(self, onnx_path: str | os.PathLike, device: str = "auto", threads: int | None = None):
        import onnxruntime as ort

        path = str(onnx_path)
        if not os.path.exists(path):
            raise IfanError(f"{path}: no such ONNX file")
        require_regular_file(path)
        self.providers = providers_for(device, ort.get_available_providers())
        self.cpu_rewrites: dict[str, int] = {}  # what export/cpu_rewrites.py changed (CPU provider only)
        self.session = create_session(path, self.providers, threads, self.cpu_rewrites)
        try:
            recorded = self.session.get_modelmeta().custom_metadata_map
        except UnicodeDecodeError:
            raise IfanError(f"{path}: malformed ifan.* metadata (not UTF-8 text)") from None
        self.info = info_from_metadata(recorded, path)
        inputs = {i.name: i for i in self.session.get_inputs()}
        if "input" not in inputs:
            raise IfanError(f"{path}: no input tensor named 'input' (has {', '.join(inputs)})")
        self._dtypes = {name: _NP_TYPES.get(i.type, np.float32) for name, i in inputs.items()}
        self.limits = static_limits(inputs["input"].shape)
        self._stage_ms = {}
        try:
            self.limits = _static_limits(inputs["input"].shape)
        except UnicodeDecodeError:
            raise IfanError(f"{path}: malformed input shape (a dimension name is not UTF-8 text)") from None

    def describe(self) -> str:
        provider = self.session.get_providers()[0].replace("ExecutionProvider", "")
        return f"onnxruntime-{provider.lower()} {self.info.precision}"

    def run(self, input, left=None, right=None):
        fixed = self.limits.max_batch if self.limits.min_batch == self.limits.max_batch else None
        if fixed and input.shape[0] != fixed:  # a fixed-batch graph: pad the batch, or split it
            return self._run_fixed_batch(fixed, input, left, right)
        feeds = {"input": input}
        if self.info.dual:
            feeds.update(left=left, right=right)
        feeds = {name: np.ascontiguousarray(a, self._dtypes[name]) for name, a in feeds.items()}
        start = time.perf_counter()
        (out,) = self.session.run(["output"], feeds)
        self._stage_ms = {"compute": (time.perf_counter() - start) * 1e3}
        return np.asarray(out, np.float32)

    def _run_fixed_batch(self, fixed: int, input, left, right):
        """Batches of exactly `fixed`: the last one filled with copies of its last image."""
        outs, total_ms = [], 0.0
        for i in range(0, input.shape[0], fixed):
            parts = [None if a is None else a[i:i + fixed] for a in (input, left, right)]
            n = parts[0].shape[0]
            parts = [None if a is None else np.concatenate([a] + [a[-1:]] * (fixed - n)) for a in parts]
            outs.append(self.run(*parts)[:n])
            total_ms += self._stage_ms["compute"]
        self._stage_ms = {"compute": total_ms}
        return np.concatenate(outs)


def static_limits(shape: list) -> ShapeLimits:
    """The sizes a graph's input accepts: fixed where its batch, height or width are numbers (a
    static export), open where they are named (dynamic)."""
    fixed = lambda d: isinstance(d, int) and d > 0
    limits = ShapeLimits()
    if len(shape) == 4 and fixed(shape[0]):
        limits = ShapeLimits(min_batch=shape[0], max_batch=shape[0])
    if len(shape) == 4 and fixed(shape[2]) and fixed(shape[3]):
        hw = (shape[2], shape[3])
        limits = ShapeLimits(min_batch=limits.min_batch, max_batch=limits.max_batch, min_hw=hw, max_hw=hw)
    return limits
