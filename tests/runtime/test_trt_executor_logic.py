"""The TensorRT executor's call sequence, run on the CPU against stand-ins for TensorRT and CUDA
that follow the documented API (names, return values) and compute on host memory: buffers are
allocated once, set_input_shape only when a shape changes, profiles switched when needed, every
failed call reported, a static engine replayed as a CUDA graph."""

import sys

import numpy as np
import pytest

from ifan_trt.runtime.sidecar import Sidecar, sidecar_bytes
from ifan_trt.errors import IfanError
from ifan_trt.runtime.tensorrt import executor as trt_executor
from ifan_trt.contract import META
from tests.helpers.fake_tensorrt import FakeCuda, runtime_tensorrt






@pytest.fixture
def make_executor(tmp_path, monkeypatch):
    def make(shapes=(-1, 3, -1, -1), profiles=None, data=b"engine"):
        profiles = profiles or [((1, 3, 8, 8), (1, 3, 32, 32), (2, 3, 64, 64)),
                                ((1, 3, 64, 64), (1, 3, 128, 128), (1, 3, 256, 256))]
        cuda, calls = FakeCuda(), []
        monkeypatch.setitem(sys.modules, "tensorrt", runtime_tensorrt(cuda, shapes, profiles, calls))
        monkeypatch.setattr(trt_executor, "open_cuda", lambda *a, **k: cuda)
        monkeypatch.setattr(trt_executor.TrtExecutor, "_load_plugin", staticmethod(lambda p: calls.append(("plugin", p))))
        engine = tmp_path / "m.engine"
        engine.write_bytes(data)
        ranges = [{"input": {"min": list(lo), "opt": list(opt), "max": list(hi)}} for lo, opt, hi in profiles]
        (tmp_path / "m.engine.json").write_bytes(sidecar_bytes(Sidecar(
            engine=engine, precision="fp16", profiles=ranges, inputs=["input"], tensorrt_version="10.3.0",
            metadata={META.variant: "IFAN", META.iac_form: "plugin"}).as_dict()))
        return trt_executor.TrtExecutor(engine), cuda, calls

    return make


def _x(*shape):
    return np.random.default_rng(sum(shape)).random(shape).astype(np.float32)


def test_dynamic_engine_runs_by_name_and_switches_profiles(make_executor):
    ex, cuda, calls = make_executor()
    assert ("plugin", None) in calls and ex.describe() == "tensorrt fp16 (fake)"  # names the CUDA binding
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


def test_dynamic_engine_with_one_fixed_profile_is_replayed_as_a_cuda_graph(make_executor):
    """`ifan build --shapes min=S,opt=S,max=S` from a dynamic export: TensorRT declares -1 dims."""
    ex, cuda, calls = make_executor(shapes=(-1, 3, -1, -1), profiles=[((1, 3, 16, 16),) * 3])
    for seed in range(3):
        x = np.random.default_rng(seed).random((1, 3, 16, 16)).astype(np.float32)
        assert np.allclose(ex.run(x), 1 - x)
    assert cuda.launches == 2 and cuda.allocs == 2
    assert [c for c in calls if c[0] == "set_input_shape"] == [("set_input_shape", "input", (1, 3, 16, 16))]


def test_shape_outside_the_profiles_and_failed_calls(make_executor):
    ex, cuda, calls = make_executor()
    with pytest.raises(IfanError, match="outside every optimisation profile"):
        ex.run(_x(1, 3, 512, 512))
    ex.context.set_input_shape = lambda name, shape: False  # TensorRT refuses: must not pass silently
    with pytest.raises(RuntimeError, match=r"set_input_shape\(input"):
        ex.run(_x(1, 3, 8, 16))


def test_engine_from_another_tensorrt_is_a_clear_error(make_executor):
    with pytest.raises(IfanError, match="TensorRT 10.3.0 cannot load this engine.*rebuild it on this GPU"):
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



def test_a_sidecar_never_makes_the_executor_load_a_library_from_elsewhere(tmp_path, monkeypatch):
    from ifan_trt.runtime.tensorrt import plugin_library

    elsewhere = tmp_path / "downloads" / "libifan_iac_plugin_trt10.so"
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(b"not a library")
    build = tmp_path / "build"
    build.mkdir()
    trusted = build / "libifan_iac_plugin_trt10.so"
    trusted.write_bytes(b"not a library")
    monkeypatch.setattr(plugin_library, "search_dirs", lambda: [build])
    assert trt_executor._recorded_plugin({"plugin_library": {"path": str(elsewhere)}}) is None
    assert trt_executor._recorded_plugin({"plugin_library": {"path": str(trusted)}}) == str(trusted)
    assert trt_executor._recorded_plugin({"plugin_library": {"path": str(build / "missing.so")}}) is None
