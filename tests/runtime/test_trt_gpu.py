"""The TensorRT executor on a real GPU: small engines built here from the small model's ONNX
(standard-op IAC, and the plugin form when the IFAN_IAC library is built), compared with ONNX
Runtime; dynamic profiles, CUDA graph replay for a static engine, both CUDA bindings, the layer
profiler. Skipped (with the reason) without TensorRT, a CUDA binding or a GPU."""


import numpy as np
import pytest

from tests.helpers.gpu import require_tensorrt_gpu  # noqa: E402

trt = require_tensorrt_gpu(polygraphy=True)

from ifan_trt.runtime.tensorrt.cuda import available_implementations  # noqa: E402

from tests.helpers.runtime import scene  # noqa: E402
from ifan_trt.runtime.executors.ort_executor import OrtExecutor  # noqa: E402
from ifan_trt.runtime.tensorrt.executor import TrtExecutor  # noqa: E402

pytestmark = pytest.mark.gpu
TOL = 2e-3  # FP32 engine (polygraphy leaves TF32 off) vs ONNX Runtime: kernels sum in other orders


def build_engine(onnx_path, engine_path, shapes, plugin=None):
    """A strongly typed FP32 engine with one profile per (min, opt, max), and its sidecar."""
    from polygraphy.backend.trt import CreateConfig, Profile, engine_bytes_from_network, network_from_onnx_path

    from ifan_trt.export.graph import read_metadata

    if plugin is not None:
        from ifan_trt.runtime.tensorrt.plugin_library import load_plugin

        load_plugin(plugin)
    profiles = [Profile().add("input", min=lo, opt=opt, max=hi) for lo, opt, hi in shapes]
    network = network_from_onnx_path(str(onnx_path), strongly_typed=True)
    plan = engine_bytes_from_network(network, CreateConfig(profiles=profiles,
                                                           profiling_verbosity=trt.ProfilingVerbosity.DETAILED))
    engine_path.write_bytes(bytes(plan))
    from ifan_trt.runtime.model_files.sidecar import Sidecar, sidecar_bytes, sidecar_path

    ranges = [{"input": {"min": list(lo), "opt": list(opt), "max": list(hi)}} for lo, opt, hi in shapes]
    sidecar = Sidecar(engine=engine_path, precision="fp32", profiles=ranges, inputs=["input"],
                           metadata=read_metadata(onnx_path), tensorrt_version=trt.__version__).as_dict()
    sidecar_path(engine_path).write_bytes(sidecar_bytes(sidecar))
    return engine_path


def _batch(b, h, w):
    return np.stack([scene(h, w, i).transpose(2, 0, 1) for i in range(b)])


@pytest.mark.parametrize("cuda", available_implementations())
def test_dynamic_engine_matches_onnxruntime(models, tmp_path, cuda):
    shapes = [((1, 3, 16, 16), (1, 3, 32, 48), (2, 3, 64, 96)), ((1, 3, 64, 64), (1, 3, 96, 128), (1, 3, 128, 192))]
    engine = build_engine(models("onnx"), tmp_path / "dyn.engine", shapes)
    ort = OrtExecutor(models("onnx"))
    with TrtExecutor(engine, cuda=cuda) as ex:
        assert ex.limits.max_hw == (128, 192) and ex.max_batch(32, 32) == 2
        for x in (_batch(2, 32, 48), _batch(1, 96, 160), _batch(1, 16, 24)):  # profile 0, 1, 0
            got = ex.run(x)
            assert got.shape == x.shape and np.abs(got - ort.run(x)).max() <= TOL
            assert ex.stage_ms["compute"] > 0 and ex.stage_ms["h2d"] > 0


def test_static_engine_replays_a_cuda_graph(models, tmp_path):
    engine = build_engine(models("onnx"), tmp_path / "static.engine", [((1, 3, 32, 48),) * 3])
    ort = OrtExecutor(models("onnx"))
    with TrtExecutor(engine) as ex:
        for seed in range(3):
            x = np.stack([scene(32, 48, seed).transpose(2, 0, 1)])
            assert np.abs(ex.run(x) - ort.run(x)).max() <= TOL
        if ex.cuda.supports_graphs:
            assert ex._graph is not None


def test_plugin_engine_matches_onnxruntime(models, tmp_path):
    from ifan_trt.errors import IfanError
    from ifan_trt.runtime.tensorrt.plugin_library import find_plugin_library

    try:
        library = find_plugin_library(int(trt.__version__.split(".")[0]))
    except IfanError as exc:
        pytest.skip(f"IFAN_IAC plugin library not built: {exc}")
    engine = build_engine(models("plugin"), tmp_path / "plugin.engine",
                          [((1, 3, 16, 16), (1, 3, 48, 64), (2, 3, 64, 96))], plugin=library)
    x = _batch(2, 48, 64)
    with TrtExecutor(engine, plugin=str(library)) as ex:
        assert np.abs(ex.run(x) - OrtExecutor(models("onnx")).run(x)).max() <= TOL


def test_layer_profiler_reports_layers(models, tmp_path):
    engine = build_engine(models("onnx"), tmp_path / "p.engine", [((1, 3, 32, 48),) * 3])
    with TrtExecutor(engine) as ex:
        ex.enable_layer_profiling()
        for _ in range(2):
            ex.run(_batch(1, 32, 48))
        times = ex.layer_times()
        assert len(times) > 5 and all(v >= 0 for v in times.values())
