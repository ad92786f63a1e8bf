"""`ifan triton-repo`: every config.pbtxt parses with Triton's own model_config protobuf (tritonclient's
copy) and says what the model really takes; the plugin-form ONNX is refused with the fix."""

from __future__ import annotations

import pytest

model_config_pb2 = pytest.importorskip("tritonclient.grpc.model_config_pb2",
                                       reason="tritonclient[grpc] not installed (the dev extra)")
onnx = pytest.importorskip("onnx")

from google.protobuf import text_format  # noqa: E402

from ifan_trt.cli import main  # noqa: E402
from ifan_trt.errors import IfanError  # noqa: E402
from ifan_trt.runtime.serving.triton_repo import write_repository  # noqa: E402


def parse(path) -> "model_config_pb2.ModelConfig":
    return text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())


def io(config):
    dtype = model_config_pb2.DataType.Name
    return ([(t.name, dtype(t.data_type), list(t.dims)) for t in config.input],
            [(t.name, dtype(t.data_type), list(t.dims)) for t in config.output])


@pytest.fixture(scope="module")
def standard_onnx(models):
    pytest.importorskip("torch")
    return models("onnx")


def test_onnx_repository_for_onnxruntime(standard_onnx, tmp_path, capsys):
    repo = tmp_path / "repo"
    assert main(["triton-repo", str(standard_onnx), "-o", str(repo), "--instances", "2", "--max-batch", "6"]) == 0
    assert f"tritonserver --model-repository={repo}" in capsys.readouterr().out
    config = parse(repo / "ifan" / "config.pbtxt")
    assert config.name == "ifan" and config.platform == "onnxruntime_onnx" and config.max_batch_size == 6
    assert io(config) == ([("input", "TYPE_FP32", [3, -1, -1])], [("output", "TYPE_FP32", [3, -1, -1])])
    assert config.HasField("dynamic_batching") and config.dynamic_batching.max_queue_delay_microseconds == 2000
    assert [(g.count, model_config_pb2.ModelInstanceGroup.Kind.Name(g.kind)) for g in config.instance_group] == \
        [(2, "KIND_GPU")]
    assert (repo / "ifan" / "1" / "model.onnx").read_bytes() == standard_onnx.read_bytes()
    write_repository(standard_onnx, repo, name="ifan_cpu", kind="KIND_CPU")
    config = parse(repo / "ifan_cpu" / "config.pbtxt")
    assert config.instance_group[0].kind == model_config_pb2.ModelInstanceGroup.KIND_CPU and config.max_batch_size == 8
    with pytest.raises(IfanError, match="exists; choose another -o or --name"):
        write_repository(standard_onnx, repo)


def test_plugin_form_onnx_is_refused_with_the_fix(tmp_path):
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["b", 3, "h", "w"])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, ["b", 3, "h", "w"])
    node = helper.make_node("IFAN_IAC", ["input"], ["output"], domain="trt.plugins")
    path = tmp_path / "plugin.onnx"
    onnx.save(helper.make_model(helper.make_graph([node], "g", [x], [y])), path)
    with pytest.raises(IfanError, match=r"plugin node.*ifan export --iac onnx"):
        write_repository(path, tmp_path / "repo")
    assert not (tmp_path / "repo").exists()


def _fake_engine(folder, profiles, plugin=None):
    from ifan_trt.runtime.model_files.sidecar import Sidecar, sidecar_bytes, sidecar_path

    engine = folder / "m.engine"
    engine.write_bytes(b"plan bytes")
    sidecar = Sidecar(engine=engine, precision="fp16", profiles=[{"input": p} for p in profiles],
                           inputs=["input"], metadata={}, tensorrt_version="10.3.0", plugin_lib=plugin,
                           plugin_sha256="0").as_dict()
    sidecar_path(engine).write_bytes(sidecar_bytes(sidecar))
    return engine


def test_engine_repository_for_tensorrt(tmp_path, capsys):
    plugin = tmp_path / "libifan_iac_plugin_trt10.so"
    plugin.write_bytes(b"\x7fELF")
    engine = _fake_engine(tmp_path, [{"min": [1, 3, 256, 256], "opt": [2, 3, 720, 1280], "max": [4, 3, 1080, 1920]}],
                          plugin)
    repo = tmp_path / "repo"
    assert main(["triton-repo", str(engine), "-o", str(repo)]) == 0
    out = capsys.readouterr().out
    library = repo / "plugins" / plugin.name
    assert f"LD_PRELOAD={library}" in out and f"--backend-config=tensorrt,plugins={library}" in out
    assert library.read_bytes() == plugin.read_bytes()
    config = parse(repo / "ifan" / "config.pbtxt")
    assert config.platform == "tensorrt_plan" and config.max_batch_size == 4  # the engine's largest batch
    assert io(config) == ([("input", "TYPE_FP32", [3, -1, -1])], [("output", "TYPE_FP32", [3, -1, -1])])
    assert config.instance_group[0].kind == model_config_pb2.ModelInstanceGroup.KIND_GPU
    assert (repo / "ifan" / "1" / "model.plan").read_bytes() == b"plan bytes"


def test_engine_limits_are_kept(tmp_path, capsys):
    static = _fake_engine(tmp_path, [{"min": [1, 3, 720, 1280], "opt": [1, 3, 720, 1280], "max": [2, 3, 720, 1280]}])
    config_path = tmp_path / "repo" / "ifan" / "config.pbtxt"
    write_repository(static, tmp_path / "repo")
    assert io(parse(config_path))[0] == [("input", "TYPE_FP32", [3, 720, 1280])]
    assert main(["triton-repo", str(static), "-o", str(tmp_path / "r2"), "--max-batch", "8"]) == 1
    assert capsys.readouterr().err.strip() == ("ifan triton-repo: error: --max-batch 8: the engine's profiles take "
                                               "batches up to 2; pass --max-batch 2 or rebuild with larger --shapes")
    assert main(["triton-repo", str(static), "-o", str(tmp_path / "r3"), "--kind", "cpu"]) == 1
    assert "a TensorRT engine runs on the GPU" in capsys.readouterr().err
