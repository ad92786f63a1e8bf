"""TensorRT backend: a serialised engine (and the IFAN_IAC plugin library) run with the
TensorRT 10/11 Python API: tensors by name, set_input_shape per input, set_tensor_address,
execute_async_v3 on one stream. Pinned host and device buffers are allocated once for the largest
shape the profiles allow and reused (mapped host memory without copies on an integrated GPU: see
buffers.py); a static-shape engine is replayed as a CUDA graph. `pipeline()` keeps several frames
in flight (pipelined.py).

Decisions (profile choice, shape checks, buffer sizes) are in trt_plan (tested on the CPU); CUDA
calls go through runtime/tensorrt/cuda.py. Every TensorRT call that reports success is checked.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ifan_trt.contract import INPUT, OUTPUT
from ifan_trt.errors import IfanError
from ifan_trt.log import get as get_logger

from ifan_trt.runtime.interface.executor import Executor
from ifan_trt.runtime.model_files.metadata import info_from_sidecar
from ifan_trt.runtime.model_files import plan as trt_plan
from ifan_trt.runtime.tensorrt.buffers import BufferSet, choose_memory_path
from ifan_trt.runtime.tensorrt.cuda import open_cuda
from ifan_trt.runtime.tensorrt.importing import import_tensorrt
from ifan_trt.runtime.model_files.sidecar import read_sidecar

log = get_logger(__name__)


def _ok(result, what: str):
    """TensorRT's Python API reports many failures as False/None instead of raising."""
    if result is None or result is False:
        raise RuntimeError(f"TensorRT: {what} failed (see the TensorRT log above)")
    return result


def apply_shapes(context, stream_handle: int, tensors, profiles, state: tuple[int, dict | None],
                 shapes: dict[str, tuple]) -> tuple[int, dict]:
    """Select the profile that fits `shapes` and set them on the context, skipping what `state`
    (the context's current profile and shapes) already holds; returns the new state."""
    trt_plan.check_rank(tensors, shapes)
    profile = trt_plan.choose_profile(profiles, shapes)
    index, current = state
    if profile.index != index:
        _ok(context.set_optimization_profile_async(profile.index, stream_handle),
            f"set_optimization_profile_async({profile.index})")
        index, current = profile.index, None
    if shapes != current:
        for name, shape in shapes.items():
            _ok(context.set_input_shape(name, shape), f"set_input_shape({name}, {list(shape)})")
        current = dict(shapes)
    return index, current


def _layer_profiler(trt):
    class LayerTimes(trt.IProfiler):
        """Accumulates IProfiler's per-layer times over runs (ms)."""

        def __init__(self):
            trt.IProfiler.__init__(self)
            self.total_ms: dict[str, float] = {}
            self.runs = 0

        def report_layer_time(self, layer_name, ms):
            self.total_ms[layer_name] = self.total_ms.get(layer_name, 0.0) + ms

    return LayerTimes()


def _recorded_plugin(sidecar: dict) -> str | None:
    """The plugin library the engine was built with, when it is still where the sidecar says and
    that is one of the folders plugin_library searches anyway (else None: it searches them). A
    sidecar never makes us load native code from elsewhere: that takes --plugin."""
    from .plugin_library import search_dirs

    entry = sidecar.get("plugin_library") or {}
    path = entry.get("path") if isinstance(entry, dict) else None
    if not (isinstance(path, str) and path and Path(path).is_file()):
        return None
    trusted = {d.resolve() for d in search_dirs()}
    return path if Path(path).resolve().parent in trusted else None


class TrtExecutor(Executor):
    backend = "tensorrt"

    def __init__(self, engine_path: str | os.PathLike, cuda: str = "auto", plugin: str | None = None,
                 device: int = 0, cuda_graphs: bool = True, memory: str = "auto"):
        trt = import_tensorrt("or run the ONNX model with --backend onnxruntime")
        path = Path(engine_path)
        if not path.is_file():
            raise IfanError(f"{path}: no such engine file")
        self.info = info_from_sidecar(path)
        sidecar = read_sidecar(path)
        self.trt = trt
        self._logger = trt.Logger(trt.Logger.WARNING)
        builder = sidecar.get("builder") if isinstance(sidecar.get("builder"), dict) else {}
        embedded = bool(builder.get("version_compatible")) and bool(sidecar.get("plugin_library"))
        if self.info.iac_form == "plugin" and not embedded:  # the plugin graph: register the IAC plugin
            self._load_plugin(plugin or _recorded_plugin(sidecar))
        elif not self.info.iac_form and (plugin or _recorded_plugin(sidecar)):  # unrecorded form: try it
            try:
                self._load_plugin(plugin or _recorded_plugin(sidecar))
            except IfanError:
                pass  # a standard-op engine needs no plugin; a plugin engine fails to load below, with TensorRT's reason
        self.cuda = open_cuda(cuda, device)
        self.cuda_binding = self.cuda.name
        try:
            with self.cuda.current():
                self.memory_path = choose_memory_path(self.cuda, memory)  # "copy" or "zero-copy"
                self._open(path, sidecar)
        except BaseException:
            self.cuda.close()
            raise
        static = trt_plan.is_static(self.tensors, self.profiles)
        self._use_graphs = cuda_graphs and self.cuda.supports_graphs and static
        self._graph = None
        self._profiler = None
        self._stage_ms = {}
        self._pipelines = []

    @staticmethod
    def _load_plugin(plugin: str | None) -> None:
        from ifan_trt.runtime.tensorrt.plugin_library import load_plugin

        load_plugin(plugin)

    def _open(self, path: Path, sidecar: dict) -> None:
        trt = self.trt
        self._runtime = _ok(trt.Runtime(self._logger), "creating the runtime")
        if (sidecar.get("builder") or {}).get("version_compatible"):
            self._runtime.engine_host_code_allowed = True  # the plan carries the lean runtime (and the plugin)
        dla = (sidecar.get("dla") or {}).get("core")
        self._dla = dla
        if dla is not None:  # an engine built for a DLA core runs its DLA layers there
            self._runtime.DLA_core = int(dla)
        engine = self._runtime.deserialize_cuda_engine(path.read_bytes())
        if engine is None:
            built = sidecar.get("tensorrt_version", "unknown")
            plugin = "" if self.info.iac_form == "onnx" else " and need the IFAN_IAC plugin library (--plugin)"
            raise IfanError(f"{path}: TensorRT {trt.__version__} cannot load this engine (built with TensorRT "
                            f"{built}); engines are tied to the TensorRT version and GPU{plugin}: rebuild it on this GPU")
        self.engine = engine
        self.tensors = []
        for i in range(engine.num_io_tensors):
            name = engine.get_tensor_name(i)
            self.tensors.append(trt_plan.TensorSpec(
                name=name, is_input=engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT,
                dtype=np.dtype(trt.nptype(engine.get_tensor_dtype(name))),
                shape=tuple(engine.get_tensor_shape(name))))
        inputs = [t.name for t in self.tensors if t.is_input]
        outputs = [t.name for t in self.tensors if not t.is_input]
        if INPUT not in inputs or OUTPUT not in outputs:
            raise IfanError(f"{path}: expected tensors 'input' and 'output' (found inputs {inputs}, outputs "
                            f"{outputs}); build the engine from an `ifan export` ONNX model")
        if trt_plan.is_static(self.tensors):
            self.profiles = trt_plan.static_profiles(self.tensors)
        else:
            self.profiles = [trt_plan.Profile(p, {n: tuple(tuple(s) for s in engine.get_tensor_profile_shape(n, p))
                                                  for n in inputs})
                             for p in range(engine.num_optimization_profiles)]
        # a uint8 engine's input is the frame, [B,H,W,3]: its limits are told in [B,3,H,W] as for any engine
        self._hw_profiles = trt_plan.frames_as_nchw(self.profiles) if self.info.io == "uint8" else self.profiles
        self.limits = trt_plan.shape_limits(self._hw_profiles)
        self.context = _ok(engine.create_execution_context(), "creating an execution context")
        self._sizes = trt_plan.plan_buffers(self.tensors, self.profiles)
        self._buffers = BufferSet(self.cuda, self._sizes, self.memory_path)
        for name, ptr in self._buffers.device.items():
            _ok(self.context.set_tensor_address(name, ptr), f"set_tensor_address({name})")
        self._profile = 0
        self._shapes: dict[str, tuple] | None = None
        self._events = [self.cuda.event() for _ in range(4)]

    def describe(self) -> str:
        io = " uint8-io" if self.info.io == "uint8" else ""
        dla = f" dla{self._dla}" if getattr(self, "_dla", None) is not None else ""
        return f"tensorrt {self.info.precision}{io}{dla} ({self.cuda_binding}, {self.memory_path})"

    @property
    def float_reachable(self) -> bool:
        return self.info.io != "uint8"  # an engine holds one set of I/O types

    def pipeline(self, depth: int = 2):
        """Several frames in flight on their own streams and buffers (pipelined.TrtPipeline)."""
        from ifan_trt.runtime.tensorrt.pipelined import TrtPipeline

        pipeline = TrtPipeline(self, depth)
        self._pipelines.append(pipeline)  # closed before the engine goes
        return pipeline

    def max_batch(self, h: int, w: int) -> int:
        return max(1, trt_plan.max_batch(self._hw_profiles, h, w))

    def enable_layer_profiling(self) -> None:
        """Per-layer times from TensorRT's IProfiler on every later run (no CUDA graph then)."""
        self._profiler = _layer_profiler(self.trt)
        self.context.profiler = self._profiler
        self._use_graphs = False
        self._drop_graph()

    def layer_times(self) -> dict[str, float]:
        """Mean ms per layer over the profiled runs."""
        p = self._profiler
        return {} if p is None or not p.runs else {k: v / p.runs for k, v in p.total_ms.items()}

    def _set_shapes(self, shapes: dict[str, tuple]) -> None:
        before = self._shapes
        self._profile, self._shapes = apply_shapes(self.context, self.cuda.stream_handle, self.tensors,
                                                   self.profiles, (self._profile, self._shapes), shapes)
        if self._shapes is not before:
            self._drop_graph()

    def _drop_graph(self) -> None:
        """Destroy the captured graph (it replays the old shapes); a new one is captured later."""
        if self._graph is not None:
            graph, self._graph = self._graph, None
            self.cuda.release(graph)

    def _view(self, name: str, shape: tuple) -> np.ndarray:
        spec = next(t for t in self.tensors if t.name == name)
        return self._buffers.view(name, spec.dtype, shape)

    def _enqueue(self) -> None:
        if self._graph is not None:
            self.cuda.launch(self._graph)
        else:
            _ok(self.context.execute_async_v3(self.cuda.stream_handle), "execute_async_v3")

    def _capture_graph(self) -> None:
        """Record one enqueue as a CUDA graph; called after a normal run (TensorRT finishes its
        lazy set-up during the first enqueue, which must not be captured)."""
        try:
            self.cuda.begin_capture()
            try:
                _ok(self.context.execute_async_v3(self.cuda.stream_handle), "execute_async_v3 (capture)")
            finally:
                graph = self.cuda.end_capture()
            self._graph = graph
        except RuntimeError as exc:
            log.warning(f"CUDA graph capture failed, running without ({exc})")
            self._use_graphs = False

    def run(self, input, left=None, right=None):
        if self.info.io == "uint8":
            raise IfanError("this engine has uint8 I/O: it takes [B,H,W,3] uint8 frames (run_frames), not float input")
        feeds = {INPUT: input}
        if self.info.dual:
            feeds.update(left=left, right=right)
        with self.cuda.current():  # in the calling thread, whichever opened the executor
            return self._execute(feeds).astype(np.float32, copy=True)

    def run_frames(self, frames):
        if self.info.io != "uint8":
            return super().run_frames(frames)
        with self.cuda.current():
            return self._execute({INPUT: np.ascontiguousarray(frames, np.uint8)}).copy()

    def _execute(self, feeds: dict) -> np.ndarray:
        """One run on the engine's own I/O types: the output as a view of the pinned buffer."""
        self._set_shapes({name: tuple(a.shape) for name, a in feeds.items()})
        out_shape = tuple(self.context.get_tensor_shape(OUTPUT))
        if any(d < 0 for d in out_shape):
            raise RuntimeError(f"TensorRT could not infer the output shape for {list(feeds[INPUT].shape)}")
        for name, a in feeds.items():
            self._view(name, a.shape)[...] = a  # into pinned memory (cast to the engine's type)
        out_host = self._view(OUTPUT, out_shape)
        cuda, (e0, e1, e2, e3) = self.cuda, self._events
        cuda.record(e0)
        for name, a in feeds.items():
            self._buffers.upload(name, self._view(name, a.shape).nbytes)
        cuda.record(e1)
        self._enqueue()
        cuda.record(e2)
        self._buffers.download(OUTPUT, out_host.nbytes)
        cuda.record(e3)
        cuda.synchronize()
        if self._profiler is not None:
            self._profiler.runs += 1
        compute = cuda.elapsed_ms(e1, e2)
        self._stage_ms = {"h2d": cuda.elapsed_ms(e0, e1), "compute": compute, "gpu_compute": compute,
                          "d2h": cuda.elapsed_ms(e2, e3)}
        if self._use_graphs and self._graph is None:
            out = out_host.copy()  # the capture below enqueues once more into the same buffer
            self._capture_graph()
            return out
        return out_host

    def close(self):
        if getattr(self, "cuda", None) is None:
            return
        for pipeline in getattr(self, "_pipelines", []):
            pipeline.close()
        with self.cuda.current():
            self.context = None  # the context must go before the memory it points at
            self.engine = None
        self._graph, self._events = None, []
        self.cuda.close()
        self.cuda = None
