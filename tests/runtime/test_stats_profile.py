"""Profiler statistics against NumPy, warnings, the stage breakdown, and `ifan profile` reports."""

import csv
import importlib.util
import io
import json

import numpy as np
import pytest

from tests.helpers.runtime import FakeExecutor  # noqa: E402
from ifan_trt.cli import main
from ifan_trt.errors import IfanError
from ifan_trt.runtime.measure import stats
from ifan_trt.runtime.measure.profile_report import table, to_csv, to_json, to_png
from ifan_trt.runtime.measure.profiler import STAGES, parse_shape, profile


@pytest.mark.parametrize("n", [1, 2, 7, 100, 1001])
def test_summary_matches_numpy(n):
    v = np.random.default_rng(n).lognormal(2.0, 0.5, n)
    s = stats.summarize(v)
    for name, q in (("median", 50), ("p90", 90), ("p95", 95), ("p99", 99)):
        assert getattr(s, name) == pytest.approx(np.percentile(v, q), rel=1e-12)
    assert (s.min, s.max, s.mean) == pytest.approx((v.min(), v.max(), v.mean()), rel=1e-12)
    std = v.std(ddof=1) if n > 1 else 0.0
    assert s.std == pytest.approx(std, rel=1e-12) and s.cv == pytest.approx(std / v.mean(), rel=1e-12)
    assert s.count == n
    assert stats.throughput(s.mean, 4) == pytest.approx(4000 / v.mean())


def test_warnings():
    steady = stats.summarize([10.0, 10.1, 9.9, 10.0])
    noisy = stats.summarize([5.0, 15.0, 10.0, 30.0])
    assert stats.warnings_for(steady, {"compute": 10.0}) == []
    assert any("noisy run" in w for w in stats.warnings_for(noisy, {"compute": 10.0}))
    bound = stats.warnings_for(steady, {"h2d": 4.0, "compute": 5.0, "d2h": 3.0})
    assert len(bound) == 1 and "transfer-bound" in bound[0]


def test_stage_breakdown_cpu_and_gpu():
    cpu = profile(FakeExecutor(), (2, 3, 24, 40), "cpu", warmup=1, iterations=5, progress=False)
    assert cpu.shape == (2, 3, 24, 40) and len(cpu.e2e_ms) == 5
    assert set(cpu.stage_ms) == {"decode", "preprocess", "compute", "postprocess"}  # no transfers on CPU
    total = sum(np.array(v) for v in cpu.stage_ms.values())
    assert np.all(total <= np.array(cpu.e2e_ms) + 1e-6)  # stages fit inside the end-to-end time
    gpu_like = FakeExecutor(stage_ms={"h2d": 0.5, "compute": 2.0, "gpu_compute": 2.0, "d2h": 0.25})
    gpu = profile(gpu_like, (1, 3, 16, 16), "gpu", warmup=0, iterations=3, progress=False)
    assert gpu.stage_means()["h2d"] == 0.5 and gpu.stage_means()["d2h"] == 0.25
    assert gpu.gpu_ms == [2.0, 2.0, 2.0] and set(gpu.stage_ms) <= set(STAGES)


def test_duration_mode_and_batch_limit():
    from ifan_trt.runtime.interface.executor import ShapeLimits

    r = profile(FakeExecutor(), (1, 3, 16, 16), "d", warmup=0, iterations=None, duration=0.2, progress=False)
    assert len(r.e2e_ms) >= 2
    with pytest.raises(IfanError, match="at most batch 1"):
        profile(FakeExecutor(limits=ShapeLimits(max_batch=1)), (2, 3, 16, 16), "b", progress=False)


def test_reports():
    results = [profile(FakeExecutor(), (1, 3, 16, 24), name, warmup=0, iterations=4, progress=False)
               for name in ("a.onnx", "b.engine")]
    data = json.loads(to_json(results))
    assert [r["label"] for r in data["results"]] == ["a.onnx", "b.engine"]
    assert data["results"][0]["latency_ms"]["median"] == pytest.approx(np.median(results[0].e2e_ms))
    rows = list(csv.DictReader(io.StringIO(to_csv(results))))
    assert len(rows) == 2 and float(rows[1]["p95_ms"]) == pytest.approx(np.percentile(results[1].e2e_ms, 95), abs=1e-4)
    assert "a.onnx" in table(results) and "b.engine" in table(results)
    if importlib.util.find_spec("matplotlib"):  # the plot extra
        assert to_png(results)[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        with pytest.raises(IfanError, match=r"pip install 'ifan-trt\[plot\]'"):
            to_png(results)


def test_parse_shape():
    assert parse_shape("1x3x720x1280") == (1, 3, 720, 1280) and parse_shape("480x640") == (1, 3, 480, 640)
    with pytest.raises(IfanError, match="IFAN inputs have 3 channels"):
        parse_shape("1x4x8x8")


def test_profile_cli_compares_onnx_and_checkpoint(models, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    code = main(["profile", "--onnx", str(models("onnx")), "--checkpoint", str(models("checkpoint")),
                 "--shape", "1x3x32x48", "--warmup", "1", "--iterations", "3", "--threads", "1",
                 "--out-dir", str(tmp_path)])
    assert code == 0
    out = capsys.readouterr().out
    assert "small_onnx.onnx" in out and "small.pth" in out and "p99" in out
    data = json.loads((tmp_path / "profile.json").read_text())
    assert [r["backend"] for r in data["results"]] == ["onnxruntime-cpu fp32", "torch fp32"]
    assert all(len(r["iterations_ms"]) == 3 for r in data["results"])
    if importlib.util.find_spec("matplotlib"):  # else the PNG is skipped with a note
        assert (tmp_path / "profile.png").read_bytes()[:4] == b"\x89PNG"
    assert len((tmp_path / "profile.csv").read_text().splitlines()) == 3


def test_profile_cli_several_shapes(models, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    assert main(["profile", "--onnx", str(models("onnx")), "--shape", "1x3x16x24", "--shape", "2x3x32x32",
                 "--warmup", "0", "--iterations", "2", "--json", str(tmp_path / "p.json")]) == 0
    data = json.loads((tmp_path / "p.json").read_text())
    assert [r["shape"] for r in data["results"]] == [[1, 3, 16, 24], [2, 3, 32, 32]]
    assert data["results"][1]["label"] == "small_onnx.onnx @2x3x32x32"
    assert "shapes 1x3x16x24, 2x3x32x32" in capsys.readouterr().out


def test_profile_cli_needs_a_model(capsys):
    assert main(["profile"]) == 1
    assert "nothing to profile" in capsys.readouterr().err
