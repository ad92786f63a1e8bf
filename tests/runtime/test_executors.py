"""ONNX Runtime and PyTorch executors agree end to end; model facts come from the ONNX metadata;
backend choice (auto, explicit) and its errors."""

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("torch")

from tests.helpers.runtime import scene  # noqa: E402
from ifan_trt.errors import IfanError  # noqa: E402
from ifan_trt.runtime.executors.backends import open_executor, resolve_backend  # noqa: E402
from ifan_trt.runtime.executors.ort_executor import OrtExecutor
from ifan_trt.runtime.executors.ort_session import providers_for  # noqa: E402

TOL = 1e-4  # FP32, ONNX Runtime vs PyTorch on the small model


def _batch(b, h, w, seed=0):
    return np.stack([scene(h, w, seed + i).transpose(2, 0, 1) for i in range(b)])


@pytest.mark.parametrize("kind", ["onnx", "plugin"])
def test_ort_matches_torch(models, kind):
    x = _batch(2, 40, 56)
    with open_executor("torch", checkpoint=str(models("checkpoint"))) as torch_exec, \
            open_executor("onnxruntime", onnx=str(models(kind)), threads=1) as ort_exec:
        want, got = torch_exec.run(x), ort_exec.run(x)
        assert ort_exec.backend == "onnxruntime" and set(ort_exec.stage_ms) == {"compute"}
    assert got.shape == want.shape == (2, 3, 40, 56) and got.dtype == np.float32
    assert np.abs(got - want).max() <= TOL
    assert np.abs(want - x).mean() > 0.01  # the model really changes the picture


@pytest.mark.parametrize("kind,rewrites", [
    # every Slice of F becomes its own conv: k = 3 taps shared by both passes (official mode) + the
    # bias, N = 2 iterations; IFAN's three upconvs
    ("onnx", {"filter slices streamed": 8, "upconvs as sub-pixel convs": 3}),
    ("plugin", {"plugin node as standard ops": 1, "filter slices streamed": 8, "upconvs as sub-pixel convs": 3}),
])
def test_cpu_sessions_run_the_rewritten_graph(models, kind, rewrites):
    """On the CPU the executor streams F and turns the upconvs into sub-pixel convs (and the plugin
    node into standard ops): F is never made, and the output is the file's own within FP32 noise."""
    import onnx
    import onnxruntime as ort

    x = _batch(1, 32, 48)
    ex = OrtExecutor(models(kind), device="cpu", threads=1)
    assert ex.cpu_rewrites == rewrites
    graph = onnx.load(str(models(kind))).graph
    big = next(n for n in graph.node if "iac_filters" in n.output)
    assert big.op_type == "Conv"  # in the file; the session's graph has no such conv any more
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    as_exported = ort.InferenceSession(str(models("onnx")), so, providers=["CPUExecutionProvider"])
    assert np.abs(ex.run(x) - as_exported.run(["output"], {"input": x})[0]).max() <= 1e-5


def test_model_facts_from_metadata(models):
    ex = OrtExecutor(models("onnx"))
    info = ex.info
    assert (info.variant, info.n_iters, info.dual, info.in_bit, info.iac_mode) == ("IFAN_2_ch8", 2, False, 8, "official")
    assert (info.normalization, info.iac_form, info.precision, info.size_multiple) == ("rgb/255", "onnx", "fp32", 8)
    assert ex.describe() == "onnxruntime-cpu fp32"


def test_onnx_without_metadata_is_refused(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["input"], ["output"])], "g",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 8, 8])])
    path = tmp_path / "plain.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    with pytest.raises(IfanError, match="no ifan.variant metadata"):
        OrtExecutor(path)


def test_bad_files(tmp_path):
    with pytest.raises(IfanError, match="no such ONNX file"):
        OrtExecutor(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(IfanError, match="junk.onnx: not a readable ONNX model"):
        OrtExecutor(tmp_path / "junk.onnx")


def test_providers():
    assert providers_for("auto", ["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    assert providers_for("auto", ["CUDAExecutionProvider", "CPUExecutionProvider"])[0] == "CUDAExecutionProvider"
    with pytest.raises(IfanError, match="no TensorrtExecutionProvider.*onnxruntime-gpu"):
        providers_for("tensorrt", ["CPUExecutionProvider"])


def test_backend_resolution(tmp_path, monkeypatch):
    from ifan_trt.runtime.executors import backends

    monkeypatch.setattr(backends, "engines_unavailable", lambda: None)
    engine, onnx, ckpt = tmp_path / "m.engine", tmp_path / "m.onnx", tmp_path / "c.pth"
    for path in (engine, onnx, ckpt):
        path.write_bytes(b"x")
    assert resolve_backend("auto", None, None, str(engine)) == ("tensorrt", str(engine))
    assert resolve_backend("auto", None, str(onnx), None) == ("onnxruntime", str(onnx))
    assert resolve_backend("auto", str(ckpt), None, None) == ("torch", str(ckpt))
    assert resolve_backend("ort", None, str(onnx), None) == ("onnxruntime", str(onnx))
    monkeypatch.setattr(backends, "engines_unavailable", lambda: "no CUDA GPU visible")
    with pytest.raises(IfanError, match="cannot run here: no CUDA GPU visible; pass the ONNX model with --onnx"):
        resolve_backend("auto", None, None, str(engine))  # an ONNX beside it is not a record
    with pytest.raises(IfanError, match="give one model"):
        resolve_backend("auto", str(ckpt), str(onnx), None)
    with pytest.raises(IfanError, match="--backend tensorrt runs an engine"):
        resolve_backend("tensorrt", None, str(onnx), None)
    with pytest.raises(IfanError, match="unknown backend 'tpu'"):
        resolve_backend("tpu", None, None, None)
