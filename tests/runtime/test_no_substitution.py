"""No silent substitution: a named model that is missing or unreadable is an error; an engine
falls back to the ONNX model its sidecar records only under --backend auto, in one line; `default`
names the bundled model; reports name the backend and the file that really ran."""

from __future__ import annotations

import hashlib
import os

import pytest

from ifan_trt.cli import main
from ifan_trt.errors import IfanError
from ifan_trt.runtime.executors.backends import resolve_backend
from ifan_trt.runtime.model_files.sidecar import Sidecar, recorded_onnx, sidecar_bytes


def write_sidecar(engine, onnx, sha):
    profile = {"input": {"min": [1, 3, 64, 64], "opt": [1, 3, 64, 64], "max": [1, 3, 64, 64]}}
    data = Sidecar(engine=engine, precision="fp32", profiles=[profile], inputs=["input"],
                        metadata={"ifan.variant": "IFAN"}, tensorrt_version="10.3.0", onnx_path=onnx, onnx_sha256=sha).as_dict()
    engine.with_name(engine.name + ".json").write_bytes(sidecar_bytes(data))


def _engine_with_record(tmp_path, onnx_bytes=b"onnx", sha=None):
    onnx, engine = tmp_path / "built.onnx", tmp_path / "m.engine"
    onnx.write_bytes(onnx_bytes)
    engine.write_bytes(b"plan")
    write_sidecar(engine, onnx, sha or hashlib.sha256(onnx_bytes).hexdigest())
    return engine, onnx


@pytest.mark.parametrize("flag", ["--engine", "--onnx", "--checkpoint"])
def test_missing_model_is_one_line_error(tmp_path, capsys, flag):
    (tmp_path / "x.onnx").write_bytes(b"")  # a same-stem file must not be picked up
    (tmp_path / "in.png").write_bytes(b"")
    missing = tmp_path / "x.engine" if flag == "--engine" else tmp_path / "nothere.bin"
    code = main(["deblur", str(tmp_path / "in.png"), "-o", str(tmp_path / "o.png"), flag, str(missing)])
    err = capsys.readouterr().err
    assert code == 1
    assert err == f"ifan deblur: error: {missing}: no such file ({flag})\n"
    assert not (tmp_path / "o.png").exists()


def test_unreadable_and_folder_models(tmp_path):
    with pytest.raises(IfanError, match="not a regular file \\(--onnx\\)"):
        resolve_backend("auto", None, str(tmp_path), None)
    locked = tmp_path / "locked.onnx"
    locked.write_bytes(b"x")
    locked.chmod(0)
    if os.access(locked, os.R_OK):  # root reads anything
        pytest.skip("running as root: file permissions do not stop reads")
    with pytest.raises(IfanError, match="cannot read it"):
        resolve_backend("auto", None, str(locked), None)


@pytest.fixture
def no_gpu(monkeypatch):
    from ifan_trt.runtime.executors import backends

    monkeypatch.setattr(backends, "engines_unavailable", lambda: "no CUDA GPU visible")


def test_engine_fallback_only_under_auto(tmp_path, caplog, no_gpu):
    engine, onnx = _engine_with_record(tmp_path)
    assert resolve_backend("auto", None, None, str(engine)) == ("onnxruntime", str(onnx))
    assert caplog.messages == [f"{engine} cannot run here: no CUDA GPU visible; --backend auto runs the ONNX model "
                               f"it was built from, {onnx}, on ONNX Runtime instead"]
    with pytest.raises(IfanError, match=f"--backend onnxruntime runs an ONNX model: pass --onnx FILE \\({engine} was built from"):
        resolve_backend("onnxruntime", None, None, str(engine))
    assert resolve_backend("tensorrt", None, None, str(engine)) == ("tensorrt", str(engine))


def test_engine_fallback_refuses_a_changed_onnx(tmp_path, no_gpu):
    engine, onnx = _engine_with_record(tmp_path, sha="0" * 64)
    assert recorded_onnx(str(engine)) is None
    with pytest.raises(IfanError, match="cannot run here: no CUDA GPU visible; pass the ONNX model with --onnx"):
        resolve_backend("auto", None, None, str(engine))


def test_auto_runs_an_engine_on_tensorrt_only_where_tensorrt_is_installed(tmp_path, monkeypatch, caplog):
    import sys

    from tests.helpers import fake_cuda, fake_tensorrt

    engine, onnx = _engine_with_record(tmp_path)
    fake_cuda.install(monkeypatch)  # a GPU and both CUDA bindings, but no TensorRT
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    assert resolve_backend("auto", None, None, str(engine)) == ("onnxruntime", str(onnx))
    assert len(caplog.messages) == 1 and caplog.messages[0].startswith(
        f"{engine} cannot run here: TensorRT is not installed")
    fake_tensorrt.install(monkeypatch)
    assert resolve_backend("auto", None, None, str(engine)) == ("tensorrt", str(engine))


def test_default_names_the_bundled_model():
    pytest.importorskip("onnxruntime")
    from ifan_trt.weights import default_checkpoint_path, default_onnx_path

    assert resolve_backend("auto", "default", None, None) == ("torch", str(default_checkpoint_path()))
    assert resolve_backend("auto", None, "default", None) == ("onnxruntime", str(default_onnx_path()))
    assert resolve_backend("auto", None, None, None) == ("onnxruntime", str(default_onnx_path()))
    assert resolve_backend("torch", None, None, None) == ("torch", str(default_checkpoint_path()))
    with pytest.raises(IfanError, match="--engine default: no engine is bundled"):
        resolve_backend("auto", None, None, "default")


def test_eval_row_names_what_ran(tmp_path, capsys):
    """An engine without a GPU falls back under auto; the eval row names the ONNX file and
    ONNX Runtime, not the engine."""
    pytest.importorskip("onnxruntime")
    import cv2
    import numpy as np

    from ifan_trt.weights import default_onnx_path

    data = tmp_path / "set"
    for sub in ("source", "target"):
        (data / sub).mkdir(parents=True)
        cv2.imwrite(str(data / sub / "a.png"), np.full((16, 16, 3), 120 if sub == "source" else 128, np.uint8))
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"plan")
    onnx = default_onnx_path()
    write_sidecar(engine, onnx, hashlib.sha256(onnx.read_bytes()).hexdigest())
    from ifan_trt.runtime.tensorrt import cuda as cuda_memory

    if cuda_memory.gpu_count() > 0:
        pytest.skip("a GPU is present: the engine would run on TensorRT")
    assert main(["eval", "--data", str(data), "--engine", str(engine)]) == 0
    out = capsys.readouterr().out
    assert "| default (default.onnx) (onnxruntime) |" in out
    assert "m.engine" not in out
