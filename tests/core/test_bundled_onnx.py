"""The bundled model's ONNX files are exports of the bundled checkpoint (so a torch-free install
runs the same model), small, and of the precisions their names say."""

from __future__ import annotations

import hashlib

import pytest

onnx = pytest.importorskip("onnx")

from ifan_trt.weights import default_checkpoint_path, default_onnx_path  # noqa: E402


def _meta(path):
    return {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}


def test_bundled_onnx_match_the_checkpoint():
    digest = hashlib.sha256(default_checkpoint_path().read_bytes()).hexdigest()
    fp32, int8 = _meta(default_onnx_path("fp32")), _meta(default_onnx_path("int8-cpu"))
    assert fp32["ifan.checkpoint_sha256"] == int8["ifan.checkpoint_sha256"] == digest
    assert fp32["ifan.precision"] == "fp32" and int8["ifan.int8_target"] == "cpu"
    assert default_onnx_path("fp32").stat().st_size < 10_000_000
    assert default_onnx_path("int8-cpu").stat().st_size < 4_000_000


def test_bundled_fp32_onnx_equals_pytorch():
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from ifan_trt.export.verify import verify_onnx

    report = verify_onnx(str(default_onnx_path()), str(default_checkpoint_path()), shape=(64, 96), batch=1)
    assert report.passed and report.max_abs_error < 1e-4
