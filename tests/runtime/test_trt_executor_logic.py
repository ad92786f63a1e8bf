"""The TensorRT executor's call sequence, run on the CPU against stand-ins for TensorRT and CUDA
that follow the documented API (names, return values) and compute on host memory: buffers are
allocated once, set_input_shape only when a shape changes, profiles switched when needed, every
failed call reported, a static engine replayed as a CUDA graph."""

import json
import sys
import types

import numpy as np
import pytest

from ifan_trt.errors import IfanError
from ifan_trt.runtime.tensorrt import cuda as cuda_memory
from ifan_trt.runtime.tensorrt import executor as trt_executor
from ifan_trt.contract import META


class FakeCuda(cuda_memory.Cuda):
    name, supports_graphs = "fake", True

    def __init__(self):
        self.mem, self.allocs, self.capturing, self.launches, self.log = {}, 0, None, 0, []

    @property
    def stream_handle(self):
        return 7

    def device_alloc(self, nbytes):
        self.allocs += 1
        ptr = 0x1000 * (len(self.mem) + 1)
        self.mem[ptr] = np.zeros(nbytes, np.uint8)
        return ptr

    def host_alloc(self, nbytes):
        return np.zeros(nbytes, np.uint8)

    def copy_to_device(self, dst, src):
        self.mem[dst][:src.nbytes] = src

    def copy_to_host(self, dst, src):
        dst[:] = self.mem[src][:dst.nbytes]

    def synchronize(self):
        pass

    def event(self):
        return object()

    def record(self, event):
        pass

    def elapsed_ms(self, start, end):
        return 1.0

    def begin_capture(self):
        self.capturing = []

    def end_capture(self):
        graph, self.capturing = self.capturing, None
        return graph

    def launch(self, graph):
        self.launches += 1
        for op in graph:
            op()

    def close(self):
        self.log.append("close")


def fake_tensorrt(cuda: FakeCuda, shapes, profiles, calls):
    """A module with the parts of the TensorRT 10/11 Python API the executor uses."""
    trt = types.ModuleType("tensorrt")
    trt.__version__ = "10.3.0"
    trt.Logger = type("Logger", (), {"WARNING": 2, "__init__": lambda self, level: None})
    trt.TensorIOMode = types.SimpleNamespace(INPUT="in", OUTPUT="out")
    trt.nptype = lambda dtype: np.float32
    trt.IProfiler = type("IProfiler", (), {"__init__": lambda self: None})

    class Context:
        def __init__(self):
            self.addresses, self.profile, self.input_shape, self.profiler = {}, 0, None, None

        def set_tensor_address(self, name, ptr):
            calls.append(("set_tensor_address", name))
            self.addresses[name] = ptr
            return True

        def set_optimization_profile_async(self, index, stream):
            calls.append(("set_optimization_profile_async", index, stream))
            self.profile = index
            return True

        def set_input_shape(self, name, shape):
            calls.append(("set_input_shape", name, tuple(shape)))
            lo, _, hi = profiles[self.profile]
            if not all(a <= s <= b for a, s, b in zip(lo, shape, hi)):
                return False
            self.input_shape = tuple(shape)
            return True

        def get_tensor_shape(self, name):
            return self.input_shape

        def execute_async_v3(self, stream_handle):
            calls.append(("execute_async_v3", stream_handle))
            n = int(np.prod(self.input_shape)) * 4

            def compute():  # the "network": 1 - x
                x = cuda.mem[self.addresses["input"]][:n].view(np.float32)
                cuda.mem[self.addresses["output"]][:n] = (1 - x).view(np.uint8)

            if cuda.capturing is not None:
                cuda.capturing.append(compute)
            else:
                compute()
            return True

    class Engine:
        num_io_tensors = 2
        num_optimization_profiles = len(profiles)

        def get_tensor_name(self, i):
            return ["input", "output"][i]

        def get_tensor_mode(self, name):
            return "in" if name == "input" else "out"

        def get_tensor_dtype(self, name):
            return "float"

        def get_tensor_shape(self, name):
            return shapes

        def get_tensor_profile_shape(self, name, index):
            return profiles[index]

        def create_execution_context(self):
            return Context()

    class Runtime:
        def __init__(self, logger):
            pass

        def deserialize_cuda_engine(self, data):
            return None if data == b"stale" else Engine()

    trt.Runtime = Runtime
    return trt


@pytest.fixture
def make_executor(tmp_path, monkeypatch):
    def make(shapes=(-1, 3, -1, -1), profiles=None, data=b"engine"):
        profiles = profiles or [((1, 3, 8, 8), (1, 3, 32, 32), (2, 3, 64, 64)),
                                ((1, 3, 64, 64), (1, 3, 128, 128), (1, 3, 256, 256))]
        cuda, calls = FakeCuda(), []
        monkeypatch.setitem(sys.modules, "tensorrt", fake_tensorrt(cuda, shapes, profiles, calls))
        monkeypatch.setattr(trt_executor, "open_cuda", lambda *a, **k: cuda)
        monkeypatch.setattr(trt_executor.TrtExecutor, "_load_plugin", staticmethod(lambda p: calls.append(("plugin", p))))
        engine = tmp_path / "m.engine"
        engine.write_bytes(data)
        (tmp_path / "m.engine.json").write_text(json.dumps({
            "metadata": {META.variant: "IFAN", META.iac_form: "plugin"}, "precision": "fp16",
            "tensorrt_version": "10.3.0"}))
        return trt_executor.TrtExecutor(engine), cuda, calls

    return make


def _x(*shape):
    return np.random.default_rng(sum(shape)).random(shape).astype(np.float32)


def test_dynamic_engine_runs_by_name_and_switches_profiles(make_executor):
    ex, cuda, calls = make_executor()
    assert ("plugin", None) in calls and ex.describe() == "tensorrt fp16"
    assert [c[1] for c in calls if c[0] == "set_tensor_address"] == ["input", "output"]
    x = _x(2, 3, 16, 24)
    assert np.allclose(ex.run(x), 1 - x)
    assert set(ex.stage_ms) == {"h2d", "compute", "gpu_compute", "d2h"}
    calls.clear()
    y = _x(2, 3, 16, 24)
    assert np.allclose(ex.run(y), 1 - y)
    assert [c[0] for c in calls] == ["execute_async_v3"]  # same shape: no set_input_shape again
    big = _x(1, 3, 128, 200)
    assert np.allclose(ex.run(big), 1 - big)
    assert ("set_optimization_profile_async", 1, 7) in calls and ("set_input_shape", "input", (1, 3, 128, 200)) in calls
    assert cuda.allocs == 2 and ex.max_batch(32, 32) == 2 and ex.limits.max_hw == (256, 256)
    assert cuda.launches == 0  # dynamic shapes: no CUDA graph
    ex.close()
    assert cuda.log == ["close"]


def test_static_engine_is_replayed_as_a_cuda_graph(make_executor):
    ex, cuda, calls = make_executor(shapes=(1, 3, 16, 16))
    for seed in range(3):
        x = np.random.default_rng(seed).random((1, 3, 16, 16)).astype(np.float32)
        assert np.allclose(ex.run(x), 1 - x)  # new data each time through the same buffers
    assert cuda.launches == 2  # run 1 enqueues (and is captured after), runs 2 and 3 replay the graph


def test_shape_outside_the_profiles_and_failed_calls(make_executor):
    ex, cuda, calls = make_executor()
    with pytest.raises(IfanError, match="outside every optimisation profile"):
        ex.run(_x(1, 3, 512, 512))
    ex.context.set_input_shape = lambda name, shape: False  # TensorRT refuses: must not pass silently
    with pytest.raises(RuntimeError, match=r"set_input_shape\(input"):
        ex.run(_x(1, 3, 8, 16))


def test_engine_from_another_tensorrt_is_a_clear_error(make_executor):
    with pytest.raises(IfanError, match="TensorRT 10.3.0 cannot load this engine.*rebuild it here"):
        make_executor(data=b"stale")


def test_layer_profiler_disables_graphs(make_executor):
    ex, cuda, calls = make_executor(shapes=(1, 3, 16, 16))
    ex.enable_layer_profiling()
    ex._profiler.report_layer_time("conv1", 0.5)
    ex.run(_x(1, 3, 16, 16))
    ex.run(_x(1, 3, 16, 16))
    assert cuda.launches == 0 and ex.layer_times() == {"conv1": 0.25}


def test_profile_times_layers_in_a_separate_pass(make_executor):
    from ifan_trt.runtime.profiler import LAYER_RUNS, profile

    ex, cuda, calls = make_executor(shapes=(1, 3, 16, 16))
    result = profile(ex, (1, 3, 16, 16), "engine", warmup=1, iterations=3, layers=True, progress=False)
    assert len(result.e2e_ms) == 3 and result.gpu_ms == [1.0, 1.0, 1.0]
    assert cuda.launches == 3  # warm-up enqueued (then captured); the 3 timed runs replayed the graph
    assert ex._profiler is not None and ex._profiler.runs == LAYER_RUNS

