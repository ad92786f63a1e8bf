"""`ifan benchmark` and `ifan profile` where engines cannot run: one line says why (no TensorRT,
no CUDA binding, a binding that cannot reach the driver, no GPU), in the terminal and in the
reports; and `ifan profile` checks every named model before it profiles any."""

from __future__ import annotations

import importlib.util
import json

import cv2
import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from ifan_trt.cli import main  # noqa: E402
from ifan_trt.runtime.executors import backends
from ifan_trt.runtime.measure import profiler  # noqa: E402
from ifan_trt.runtime.tensorrt import cuda  # noqa: E402

NO_DRIVER = "cuda-python: CUDA driver version is insufficient for CUDA runtime version (35)"


def _find_spec_with_tensorrt(real=importlib.util.find_spec):
    return lambda name, *a: object() if name == "tensorrt" else real(name, *a)


def test_each_reason_engines_cannot_run(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    assert backends.engines_unavailable() == ("TensorRT is not installed (pip install 'ifan-trt[trt]'; "
                                              "on a Jetson it comes with JetPack)")
    monkeypatch.setattr(importlib.util, "find_spec", _find_spec_with_tensorrt())
    monkeypatch.setattr(cuda, "available_implementations", lambda: [])
    assert backends.engines_unavailable() == ("no CUDA binding is installed (cuda-python or pycuda; "
                                              "see the install instructions)")
    monkeypatch.setattr(cuda, "available_implementations", lambda: ["cuda-python"])
    monkeypatch.setattr(cuda, "probe_gpus", lambda: cuda.GpuProbe(0, None, (NO_DRIVER,)))
    assert backends.engines_unavailable() == f"the CUDA binding cannot reach the driver ({NO_DRIVER})"
    monkeypatch.setattr(cuda, "probe_gpus", lambda: cuda.GpuProbe(0, "cuda-python", ()))
    assert backends.engines_unavailable() == "no CUDA GPU visible"
    monkeypatch.setattr(cuda, "probe_gpus", lambda: cuda.GpuProbe(1, "cuda-python", ()))
    assert backends.engines_unavailable() is None


@pytest.fixture
def no_profiling(monkeypatch):
    monkeypatch.setattr(profiler, "profile", lambda *a, **k: pytest.fail("profiled before checking every model"))


def test_profile_checks_every_model_before_any_work(models, tmp_path, capsys, no_profiling):
    onnx = str(models("onnx"))
    missing = tmp_path / "fp16.engine"
    assert main(["profile", "--onnx", onnx, "--engine", str(missing), "--iterations", "1"]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [f"ifan profile: error: {missing}: no such file (--engine)"]
    missing.write_bytes(b"plan")  # an engine without its sidecar cannot run either
    assert main(["profile", "--onnx", onnx, "--engine", str(missing), "--iterations", "1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"ifan profile: error: {missing}.json: missing;"), err
    assert main(["profile", "--checkpoint", str(tmp_path / "gone.pth"), "--onnx", onnx]) == 1
    assert capsys.readouterr().err.strip().endswith("gone.pth: no such file (--checkpoint)")


def test_profile_says_why_engines_are_absent(models, tmp_path, capsys, monkeypatch):
    from ifan_trt.runtime.model_files import sidecar

    engine = tmp_path / "fp16.engine"
    engine.write_bytes(b"plan")
    monkeypatch.setattr(sidecar, "read_sidecar", lambda path: {})  # a valid sidecar: not what is tested here
    why = f"the CUDA binding cannot reach the driver ({NO_DRIVER})"
    monkeypatch.setattr(backends, "engines_unavailable", lambda: why)
    report = tmp_path / "profile.json"
    code = main(["profile", "--onnx", str(models("onnx")), "--engine", str(engine), "--shape", "1x3x16x16",
                 "--iterations", "2", "--warmup", "0", "--json", str(report)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"ifan profile: warning: no engine rows ({engine}): {why}" in captured.err.splitlines()
    assert f"{engine}: not profiled: {why}" in captured.out.splitlines()
    data = json.loads(report.read_text())
    assert [r["label"] for r in data["results"]] == [models("onnx").name]
    assert data["skipped"] == [{"model": str(engine), "reason": why}]
    # engines alone: nothing to profile is an error with the same reason
    assert main(["profile", "--engine", str(engine), "--iterations", "1"]) == 1
    assert capsys.readouterr().err.strip() == f"ifan profile: error: {engine}: cannot profile an engine here: {why}"


@pytest.fixture
def tiny_data(tmp_path):
    rng = np.random.default_rng(3)
    for i in range(2):
        sharp = cv2.resize(rng.integers(0, 255, (4, 4, 3), dtype=np.uint8), (24, 16))
        for sub, img in (("target", sharp), ("source", cv2.GaussianBlur(sharp, (5, 5), 1.2))):
            (tmp_path / "data" / sub).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(tmp_path / "data" / sub / f"{i}.png"), img)
    return tmp_path / "data"


@pytest.mark.parametrize("flags,why", [([], "TensorRT is not installed (pip install 'ifan-trt[trt]')"),
                                       (["--no-engines"], "--no-engines")])
def test_benchmark_says_why_engine_rows_are_absent(models, tiny_data, tmp_path, capsys, monkeypatch, flags, why):
    pytest.importorskip("torch")
    monkeypatch.setattr(backends, "engines_unavailable", lambda: "TensorRT is not installed (pip install 'ifan-trt[trt]')")
    out = tmp_path / "out"
    code = main(["benchmark", "--onnx", str(models("onnx")), "--data", str(tiny_data), "--out-dir", str(out),
                 "--precisions", "fp32", "--iterations", "1", "--warmup", "0", "--shape", "1x3x16x24", *flags])
    terminal = capsys.readouterr().out
    assert code == 0
    line = f"no TensorRT engine rows: {why}"
    assert line in terminal.splitlines()
    assert line in (out / "benchmark.md").read_text().splitlines()
    report = json.loads((out / "benchmark.json").read_text())
    assert report["engines_absent"] == why
    assert [r["format"] for r in report["rows"]] == ["input", "onnx"]


def test_benchmark_checks_the_data_before_preparing(models, tmp_path, capsys, monkeypatch):
    from ifan_trt.jobs import benchmark

    monkeypatch.setattr(benchmark, "fp32_source", lambda *a: pytest.fail("prepared before checking --data"))
    (tmp_path / "data" / "source").mkdir(parents=True)
    assert main(["benchmark", "--onnx", str(models("onnx")), "--data", str(tmp_path / "data"),
                 "--out-dir", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err.strip().startswith("ifan benchmark: error: ")
