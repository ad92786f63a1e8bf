"""`ifan benchmark` on a tiny model and three tiny images: every number in its table equals what
the metrics give on outputs computed here independently; a rerun reuses the finished rows, and a
changed image makes them run again."""

from __future__ import annotations

import csv
import json

import cv2
import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("torch")

from tests.helpers.models import random_model  # noqa: E402

from ifan_trt.cli import main  # noqa: E402
from ifan_trt.imageio import read_image  # noqa: E402
from ifan_trt.metrics import psnr, ssim  # noqa: E402

ARGS = ["--precisions", "fp32", "int8", "int8-cpu", "--iterations", "2", "--warmup", "0",
        "--calib-count", "3", "--calib-size", "32x32", "--shape", "1x3x32x32", "--no-engines"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from ifan_trt.checkpoint import save_checkpoint
    from ifan_trt.export import export_onnx

    root = tmp_path_factory.mktemp("bench")
    save_checkpoint(random_model(), root / "tiny.pth")
    onnx = export_onnx(root / "tiny.pth", root / "tiny.onnx", iac_form="plugin").path
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate([(32, 40), (40, 32), (24, 48)]):
        sharp = cv2.resize(rng.integers(0, 255, (h // 4, w // 4, 3), dtype=np.uint8), (w, h))
        for sub, img in (("target", sharp), ("source", cv2.GaussianBlur(sharp, (5, 5), 1.2))):
            (root / "data" / sub).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / "data" / sub / f"{i}.png"), img)
    return root, onnx


def _run(root, onnx, capsys):
    assert main(["benchmark", "--onnx", str(onnx), "--data", str(root / "data"), "--out-dir", str(root / "out")]
                + ARGS) == 0
    return capsys.readouterr().out, json.loads((root / "out" / "benchmark.json").read_text())


def _independent(model_path, pairs):
    from ifan_trt.runtime.executors.backends import open_executor
    from ifan_trt.runtime.images.pipeline import deblur_image

    with open_executor("onnxruntime", onnx=str(model_path), device="cpu") as executor:
        return [deblur_image(executor, read_image(s)).rgb for s, _ in pairs]


def test_table_numbers_equal_independent_metrics(setup, capsys):
    root, onnx = setup
    out, report = _run(root, onnx, capsys)
    assert {"machine", "versions", "command"} <= set(report) and "benchmark" in report["command"]
    rows = report["rows"]
    assert [(r["format"], r["precision"]) for r in rows] == [("input", "-"), ("onnx", "fp32"), ("onnx", "int8"),
                                                             ("onnx", "int8-cpu")]
    names = sorted(p.name for p in (root / "data" / "source").iterdir())
    pairs = [(root / "data" / "source" / n, root / "data" / "target" / n) for n in names]
    targets = [read_image(t).rgb for _, t in pairs]
    sources = [read_image(s).rgb for s, _ in pairs]
    assert rows[0]["psnr"] == pytest.approx(np.mean([psnr(s, t) for s, t in zip(sources, targets)]), abs=1e-9)
    fp32 = _independent(rows[1]["model"], pairs)
    for row in rows[1:]:
        outs = _independent(row["model"], pairs)
        assert row["bytes"] == __import__("os").path.getsize(row["model"])
        assert row["backend"].startswith("onnxruntime-cpu")
        assert row["psnr"] == pytest.approx(np.mean([psnr(o, t) for o, t in zip(outs, targets)]), abs=1e-6)
        assert row["ssim"] == pytest.approx(np.mean([ssim(o, t) for o, t in zip(outs, targets)]), abs=1e-6)
        assert 0 < row["latency_ms_median"] <= row["latency_ms_p90"]
        if row["precision"] != "fp32":
            assert row["psnr_vs_fp32"] == pytest.approx(np.mean([psnr(o, f) for o, f in zip(outs, fp32)]), abs=1e-6)
            kept = [1 - np.linalg.norm(o - f) / np.linalg.norm(f - s) for o, f, s in zip(outs, fp32, sources)]
            assert row["correction_kept"] == pytest.approx(np.mean(kept), abs=1e-6)
    assert "PSNR vs FP32" in out and "correction kept" in out
    table = list(csv.DictReader((root / "out" / "benchmark.csv").open()))
    assert [float(r["psnr"]) for r in table] == pytest.approx([r["psnr"] for r in rows])
    assert (root / "out" / "benchmark.md").read_text().startswith("| format | precision | backend |")
    if __import__("importlib").util.find_spec("matplotlib"):
        assert (root / "out" / "benchmark.png").read_bytes()[:4] == b"\x89PNG"


def test_rerun_reuses_rows_until_an_input_changes(setup, capsys):
    root, onnx = setup
    first = _run(root, onnx, capsys)[1]
    out, again = _run(root, onnx, capsys)
    assert "3 row(s) reused" in out
    assert [r["reused"] for r in again["rows"][1:]] == [True, True, True]
    assert [r["psnr"] for r in again["rows"]] == [r["psnr"] for r in first["rows"]]
    img = cv2.imread(str(root / "data" / "source" / "0.png"))
    cv2.imwrite(str(root / "data" / "source" / "0.png"), 255 - img)
    out, changed = _run(root, onnx, capsys)
    assert "reused" not in out
    assert changed["rows"][0]["psnr"] != first["rows"][0]["psnr"]


def test_engines_for_tensorrt_precisions_only(setup, monkeypatch):
    """With TensorRT and a GPU (faked here), every TensorRT precision gets an engine row built
    from its prepared graph, with a profile covering the benchmark shape and the largest image;
    the CPU INT8 graph gets none (TensorRT cannot take it)."""
    from ifan_trt.jobs import benchmark
    from ifan_trt.jobs.benchmark import BenchmarkRequest

    root, onnx = setup
    built = []
    monkeypatch.setattr(benchmark, "build_engine", lambda graph, precision, s, max_hw: built.append(
        (graph.name, precision, max_hw)) or graph.with_suffix(".engine"))
    s = BenchmarkRequest(data=root / "data", out_dir=root / "engines", shape=(1, 3, 32, 32),
                         precisions=("fp32", "int8-cpu"), calib_images=root / "data", calib_count=3, calib_size=(32, 32),
                         build_engines=True)
    models = benchmark.plan_models(onnx, s, {})
    assert [(m.format, m.precision, m.backend) for m in models] == [
        ("onnx", "fp32", "onnxruntime"), ("engine", "fp32", "tensorrt"), ("onnx", "int8-cpu", "onnxruntime")]
    assert built == [("tiny.onnx", "fp32", (40, 48))]


def test_engines_are_built_by_the_build_job_not_a_parser(tmp_path, monkeypatch):
    from pathlib import Path

    from ifan_trt.jobs import benchmark
    from ifan_trt.jobs import engine
    from ifan_trt.jobs.benchmark import BenchmarkRequest

    seen = []
    monkeypatch.setattr(engine, "build_engine",
                        lambda request: seen.append(request) or engine.BuildResult(Path(request.output), {}, request.onnx))
    out_dir = tmp_path / "run"
    s = BenchmarkRequest(data=tmp_path, out_dir=out_dir, shape=(1, 3, 32, 48))
    user_graph = tmp_path / "user" / "m.onnx"  # an FP32 export of the user's: its engine stays in the run's folder
    engine_path = out_dir / "models" / "m.engine"
    assert benchmark.build_engine(user_graph, "fp32", s, (64, 96)) == engine_path
    assert seen == [engine.BuildRequest(onnx=user_graph, output=engine_path, overwrite=True,
                                        shapes=("min=1x3x64x64,opt=1x3x32x48,max=1x3x64x96",))]
