"""The TensorRT executor on the CPU, against the TensorRT and CUDA stand-ins (tests/helpers/
fake_tensorrt.py, fake_cuda.py): engines really built by `ifan build` from small ONNX graphs,
run through the product's CudaPython/PyCuda classes, outputs compared with ONNX Runtime on the
graph the engine holds. Buffers are allocated once, set_input_shape only when a shape changes,
profiles switched when needed, failed calls reported, static engines replayed as CUDA graphs,
nothing leaked, and an executor works from threads other than the one that opened it."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from ifan_trt.runtime.model_files.sidecar import sidecar_bytes
from ifan_trt.errors import IfanError
from ifan_trt.export.ort_plugin import ort_session
from ifan_trt.runtime.tensorrt import executor as trt_executor
from tests.helpers import fake_tensorrt
from tests.helpers.build import tiny_graph

FP32_TOL = 1e-5
DYNAMIC = ("--shapes", "min=1x3x8x8,opt=1x3x32x32,max=2x3x64x64",
           "--shapes", "min=1x3x64x64,opt=1x3x128x128,max=1x3x256x256")
STATIC_16 = ("--shapes", "min=1x3x16x16,opt=1x3x16x16,max=1x3x16x16")


@pytest.fixture
def standin(tmp_path, monkeypatch):
    """make(*build_options, binding=..., devices=...) -> (engine path, tensorrt stand-in, ORT session of the
    graph the engine was built from)."""
    def make(*options, binding="cuda-python", devices=1, version="10.3.0.26"):
        from ifan_trt.runtime.model_files.sidecar import read_sidecar
        from tests.helpers.fake_cuda import FakeGpu

        trt = fake_tensorrt.install(monkeypatch, version, FakeGpu(devices=devices), bindings=(binding,))
        lib = fake_tensorrt.write_plugin_library(tmp_path, int(version.split(".")[0]))
        monkeypatch.setenv("IFAN_TRT_PLUGIN", str(lib))
        onnx_path = tiny_graph(tmp_path / "tiny.onnx", plugin=True, n_iters=2)
        engine = fake_tensorrt.build(onnx_path, tmp_path / "tiny.plan", "--iac-split", "off", *options)
        return engine, trt, ort_session(read_sidecar(engine)["onnx"]["path"])

    return make


def _x(*shape):
    return np.random.default_rng(sum(shape)).random(shape).astype(np.float32)


def _calls(monkeypatch, context, names=("set_input_shape", "set_optimization_profile_async", "execute_async_v3")):
    seen = []
    for name in names:
        real = getattr(context, name)
        monkeypatch.setattr(context, name, lambda *a, _real=real, _name=name: (seen.append((_name, *a)), _real(*a))[1])
    return seen


def test_dynamic_engine_runs_by_name_and_switches_profiles(standin, monkeypatch):
    engine, trt, ort = standin(*DYNAMIC)
    gpu = trt._gpu
    ex = trt_executor.TrtExecutor(engine)
    assert ex.describe() == "tensorrt fp32 (cuda-python, copy)"  # names the CUDA binding and memory path
    assert gpu.live() == {"device": 2, "host": 2, "stream": 1, "event": 4}
    calls = _calls(monkeypatch, ex.context)
    x = _x(2, 3, 16, 24)
    assert np.abs(ex.run(x) - ort.run(None, {"input": x})[0]).max() <= FP32_TOL
    assert set(ex.stage_ms) == {"h2d", "compute", "gpu_compute", "d2h"}
    calls.clear()
    y = _x(2, 3, 16, 24) * 0.5
    assert np.abs(ex.run(y) - ort.run(None, {"input": y})[0]).max() <= FP32_TOL
    assert [c[0] for c in calls] == ["execute_async_v3"]  # same shape: no set_input_shape again
    big = _x(1, 3, 128, 200)
    assert np.abs(ex.run(big) - ort.run(None, {"input": big})[0]).max() <= FP32_TOL
    assert ("set_optimization_profile_async", 1, ex.cuda.stream_handle) in calls
    assert ("set_input_shape", "input", (1, 3, 128, 200)) in calls
    assert ex.max_batch(32, 32) == 2 and ex.limits.max_hw == (256, 256)
    assert gpu.launches == 0 and gpu.pageable_copies == 0  # dynamic shapes: no CUDA graph; pinned copies only
    ex.close()
    assert gpu.live() == {}


@pytest.mark.parametrize("binding", ["cuda-python", "pycuda"])
def test_static_engine_is_replayed_as_a_cuda_graph(standin, binding):
    engine, trt, ort = standin(*STATIC_16, binding=binding)
    gpu = trt._gpu
    with trt_executor.TrtExecutor(engine) as ex:
        for seed in range(3):
            x = np.random.default_rng(seed).random((1, 3, 16, 16)).astype(np.float32)
            assert np.abs(ex.run(x) - ort.run(None, {"input": x})[0]).max() <= FP32_TOL  # new data, same buffers
    if binding == "cuda-python":  # run 1 enqueues (and is captured after), runs 2 and 3 replay the graph
        assert (gpu.captures, gpu.launches) == (1, 2)
    else:  # CUDA graphs are not used through pycuda
        assert (gpu.captures, gpu.launches) == (0, 0)
    del ex
    assert gpu.live() == {}


def test_alternating_static_profiles_do_not_leak_graphs(standin):
    """A static engine with two fixed profiles: each switch recaptures; the old graph and its exec are destroyed."""
    engine, trt, ort = standin("--shapes", "min=1x3x16x16,opt=1x3x16x16,max=1x3x16x16",
                               "--shapes", "min=1x3x32x32,opt=1x3x32x32,max=1x3x32x32")
    gpu = trt._gpu
    ex = trt_executor.TrtExecutor(engine)
    for size in (16, 32, 16, 32, 16):
        x = _x(1, 3, size, size)
        assert np.abs(ex.run(x) - ort.run(None, {"input": x})[0]).max() <= FP32_TOL
        assert len(gpu.graphs) == len(gpu.graph_execs) == 1  # only the current shape's graph is alive
    assert gpu.captures == 5
    ex.close()
    assert gpu.live() == {}


def test_an_executor_runs_in_threads_other_than_the_one_that_opened_it(standin):
    """A server opens executors in its main thread and calls them from its workers: the pycuda
    context is pushed, and cuda-python's device set, in the calling thread."""
    engine, trt, ort = standin(*DYNAMIC, binding="pycuda")
    ex = trt_executor.TrtExecutor(engine)
    x = _x(1, 3, 16, 16)
    results, errors = [], []

    def worker():
        try:
            results.append(ex.run(x))
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
        t.join()  # one at a time: an executor is not re-entrant (serve holds a lock per executor)
    assert errors == [] and len(results) == 3
    assert all(np.abs(r - ort.run(None, {"input": x})[0]).max() <= FP32_TOL for r in results)
    ex.close()
    assert trt._gpu.driver_context() is None  # the opening thread's context stack is as it was


def test_cuda_python_runs_on_the_executors_device_from_any_thread(standin):
    engine, trt, ort = standin(*DYNAMIC, devices=2)
    gpu = trt._gpu
    ex = trt_executor.TrtExecutor(engine, device=1)
    x = _x(1, 3, 16, 16)
    out = []
    t = threading.Thread(target=lambda: out.append(ex.run(x)))
    t.start()
    t.join()
    assert len(out) == 1 and np.abs(out[0] - ort.run(None, {"input": x})[0]).max() <= FP32_TOL
    assert {a.device for a in gpu.allocations.values()} == {1}
    assert gpu.runtime_device() == 0  # this thread's own device choice was left alone
    ex.close()
    assert gpu.live() == {}


def test_shape_outside_the_profiles_and_failed_calls(standin):
    engine, trt, ort = standin(*DYNAMIC)
    ex = trt_executor.TrtExecutor(engine)
    with pytest.raises(IfanError, match="outside every optimisation profile"):
        ex.run(_x(1, 3, 512, 512))
    ex.context.set_input_shape = lambda name, shape: False  # TensorRT refuses: must not pass silently
    with pytest.raises(RuntimeError, match=r"set_input_shape\(input"):
        ex.run(_x(1, 3, 8, 16))
    ex.close()


def test_engine_from_another_tensorrt_is_a_clear_error(standin, monkeypatch):
    engine, trt, ort = standin(*DYNAMIC)
    newer = fake_tensorrt.install(monkeypatch, "10.4.0.1", trt._gpu)
    newer.get_plugin_registry().load_library(str(fake_tensorrt.write_plugin_library(engine.parent)))
    with pytest.raises(IfanError, match=r"TensorRT 10\.4\.0\.1 cannot load this engine \(built with TensorRT "
                                        r"10\.3\.0\.26\).*rebuild it on this GPU"):
        trt_executor.TrtExecutor(engine)
    assert newer._gpu.live() == {}  # the failed open released what it had taken


def test_layer_profiler_disables_graphs(standin):
    engine, trt, ort = standin(*STATIC_16)
    ex = trt_executor.TrtExecutor(engine)
    ex.enable_layer_profiling()
    ex.run(_x(1, 3, 16, 16))
    ex.run(_x(1, 3, 16, 16))
    assert trt._gpu.launches == 0
    assert set(ex.layer_times()) == {"conv1", "act1", "filter_conv", "iac", "conv2", "residual"}
    ex.close()


def test_profile_times_layers_in_a_separate_pass(standin):
    from ifan_trt.runtime.measure.profiler import LAYER_RUNS, profile

    engine, trt, ort = standin(*STATIC_16)
    ex = trt_executor.TrtExecutor(engine)
    result = profile(ex, (1, 3, 16, 16), "engine", warmup=1, iterations=3, layers=True, progress=False)
    assert len(result.e2e_ms) == 3 and all(ms > 0 for ms in result.gpu_ms)
    assert trt._gpu.launches == 3  # warm-up enqueued (then captured); the 3 timed runs replayed the graph
    assert ex._profiler is not None and ex._profiler.runs == LAYER_RUNS
    ex.close()


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


@pytest.mark.parametrize("n, k, mode, layout", [(2, 3, 0, 0), (2, 3, 0, 1), (1, 7, 1, 0), (2, 9, 0, 0),
                                                (2, 4, 0, 0), (0, 3, 0, 0), (2, 3, 1, 1), (2, 3, 2, 0)])
def test_the_standin_creator_refuses_what_the_plugin_refuses(tmp_path, n, k, mode, layout):
    """createPlugin of the real library returns nullptr where problemError (iacMath.h) names a
    problem; the contract's iac_problem_error has its rules, and the stand-in must follow them."""
    from ifan_trt.contract import filter_channels, iac_problem_error

    trt = fake_tensorrt.make_tensorrt("10.3.0.26")
    registry = trt.get_plugin_registry()
    registry.load_library(str(fake_tensorrt.write_plugin_library(tmp_path, 10)))
    creator = registry.get_creator("IFAN_IAC", "1", "")
    fields = trt.PluginFieldCollection([
        trt.PluginField(name, np.array([value], np.int32), trt.PluginFieldType.INT32)
        for name, value in (("N", n), ("k", k), ("mode", mode), ("layout", layout))]
        + [trt.PluginField("slope", np.array([0.1], np.float32), trt.PluginFieldType.FLOAT32)])
    plugin = creator.create_plugin("iac", fields, trt.TensorRTPhase.BUILD)
    features = (1, 4, 8, 8)
    filters = (1, filter_channels(max(n, 1), 4, max(k, 1), layout if layout in (0, 1) else 0), 8, 8)
    problem = iac_problem_error(features, filters, n, k, mode, layout)
    assert (plugin is None) == (problem is not None), problem
