"""ONNX Runtime sessions: the execution providers a device choice means, the session options
measured for the CPU, the CPU rewrites applied before loading, and the plugin-node graph routed to
the session helper that supplies a CPU kernel for IFAN_IAC."""

from __future__ import annotations

from ifan_trt.errors import IfanError

DEVICES = ("auto", "cpu", "cuda", "tensorrt")
_PROVIDERS = {
    "cpu": ["CPUExecutionProvider"],
    "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "tensorrt": ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
}


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


def session_options(ort, threads: int | None):
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
    from ifan_trt.export.graph import mentions_plugin

    return mentions_plugin(path)


def _cpu_model(path: str, float_core: bool = False):
    """The graph with the CPU rewrites applied (export/cpu_rewrites.py), or None when there is
    nothing to rewrite or onnx is not installed (then the file runs as it is). float_core: the
    float network inside a uint8 model (export/uint8_io.py), rewritten likewise."""
    try:
        import onnx  # noqa: F401  the rewrites need it; without it the file runs as it is
    except ImportError:
        if float_core:
            raise IfanError(f"{path}: running the float network of a uint8 model needs onnx: pip install onnx") from None
        return None, {}
    from ifan_trt.export.cpu_rewrites import optimise_for_cpu
    from ifan_trt.export.graph import load_model

    source = load_model(path)
    if float_core:
        from ifan_trt.export.uint8_io import float_core as core_of

        source = core_of(source)
    model, applied = optimise_for_cpu(source)
    return (model if applied or float_core else None), applied


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


def create_session(path: str, providers: list[str], threads: int | None = None, cpu_rewrites: dict | None = None,
                   float_core: bool = False):
    """A session for the file; on the CPU provider the graph is rewritten first (cpu_rewrites, if
    given, receives what was applied). float_core: a session for the float network inside a
    uint8 model instead of the model itself. ONNX Runtime prints its provider fallback on stdout:
    kept for --verbose."""
    from ifan_trt.noise import python_prints_silenced

    with python_prints_silenced():
        return _create_session(path, providers, threads, cpu_rewrites, float_core)


def _create_session(path: str, providers: list[str], threads: int | None, cpu_rewrites: dict | None,
                    float_core: bool = False):
    import onnxruntime as ort

    try:
        if float_core and providers[0] != "CPUExecutionProvider":
            from ifan_trt.export.graph import load_model
            from ifan_trt.export.uint8_io import float_core as core_of

            core = core_of(load_model(path))
            if _uses_plugin_node(path):
                from ifan_trt.export.ort_plugin import ort_session

                return ort_session(core, providers=providers, threads=threads)
            return ort.InferenceSession(core.SerializeToString(), sess_options=session_options(ort, threads),
                                        providers=providers)
        if providers[0] == "CPUExecutionProvider":
            model, applied = _cpu_model(path, float_core)
            if cpu_rewrites is not None:
                cpu_rewrites.update(applied)
            if model is None:
                _return_freed_memory()  # the graph read to decide
            else:
                data = model.SerializeToString()
                del model
                session = ort.InferenceSession(data, sess_options=session_options(ort, threads), providers=providers)
                del data
                _return_freed_memory()
                return session
        if _uses_plugin_node(path):
            try:
                from ifan_trt.export.ort_plugin import ort_session  # a CPU kernel for the IFAN_IAC node
            except ImportError as exc:
                raise IfanError(f"{path}: holds the IFAN_IAC plugin node; running it on ONNX Runtime needs "
                                f"onnx and onnxruntime-extensions ({exc.name} is missing), or export with "
                                "--iac onnx") from None
            return ort_session(path, providers=providers, threads=threads)
        return ort.InferenceSession(path, sess_options=session_options(ort, threads), providers=providers)
    except IfanError:
        raise
    except Exception as exc:  # onnxruntime and onnx raise their own types for bad files
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise IfanError(f"{path}: ONNX Runtime cannot load it ({first})") from None
