"""`ifan inspect`: the facts of a checkpoint, an ONNX export (dynamic or static) and an engine's
sidecar, as text and as JSON in the shared envelope."""

from __future__ import annotations

import hashlib
import json

import pytest

pytest.importorskip("onnx")

from ifan_trt.cli import main  # noqa: E402


def test_onnx_static_and_dynamic(models, tmp_path, capsys):
    pytest.importorskip("torch")
    from ifan_trt.export import export_onnx

    static = export_onnx(models("checkpoint"), tmp_path / "s.onnx", iac_form="onnx", shape=(64, 64), batch=2).path
    assert main(["inspect", str(static), "--json", str(tmp_path / "facts.json")]) == 0
    out = capsys.readouterr().out
    assert "shapes:                 static 2x3x64x64" in out
    assert "note: static 64x64 input: ifan deblur/eval/profile pad smaller images and tile larger ones" in out
    facts = json.loads((tmp_path / "facts.json").read_text())
    assert {"machine", "versions", "command"} <= set(facts)
    assert (facts["variant"], facts["n_iters"], facts["iac_form"], facts["precision"]) == ("IFAN_2_ch8", 2, "onnx", "fp32")
    assert facts["static_hw"] == [64, 64] and facts["fixed_batch"] == 2 and facts["plugin"] is None
    assert facts["sha256"] == hashlib.sha256(static.read_bytes()).hexdigest()
    assert main(["inspect", str(models("plugin"))]) == 0
    out = capsys.readouterr().out
    assert "shapes:                 dynamic batchx3xheightxwidth" in out and "plugin:                 op=IFAN_IAC, nodes=1" in out


def test_checkpoint(models, capsys):
    pytest.importorskip("torch")
    assert main(["inspect", str(models("checkpoint"))]) == 0
    out = capsys.readouterr().out
    assert "iac_form:               pytorch" in out and "n_iters:                2" in out


def test_engine_sidecar(tmp_path, capsys):
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"plan bytes")
    from ifan_trt.runtime.model_files.sidecar import Sidecar, sidecar_bytes

    sidecar = Sidecar(
        engine=engine, precision="fp16", tensorrt_version="10.3.0", gpu={"name": "Orin", "compute_capability": "8.7"},
        engine_sha256=hashlib.sha256(b"plan bytes").hexdigest(), inputs=["input"],
        profiles=[{"input": {"min": [1, 3, 64, 64], "opt": [1, 3, 720, 1280], "max": [1, 3, 1080, 1920]}}],
        metadata={"ifan.variant": "IFAN", "ifan.n_iters": "17", "ifan.iac_form": "plugin"}).as_dict()
    (tmp_path / "m.engine.json").write_bytes(sidecar_bytes(sidecar))
    assert main(["inspect", str(engine)]) == 0
    out = capsys.readouterr().out
    assert "tensorrt_version:       10.3.0" in out and "name=Orin, compute_capability=8.7" in out
    assert "dynamic min=1x3x64x64,opt=1x3x720x1280,max=1x3x1080x1920" in out
    assert "engine_matches_sidecar: True" in out and "precision:              fp16" in out


def test_missing_model_is_one_line(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "none.engine")]) == 1
    assert capsys.readouterr().err == f"ifan inspect: error: {tmp_path / 'none.engine'}: no such file (MODEL)\n"
