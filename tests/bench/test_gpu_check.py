"""bench.gpu_check on the CPU: the one-line refusal without a GPU, and its arithmetic and table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench import gpu_check

ROOT = Path(__file__).resolve().parents[2]


def test_no_gpu_is_one_line_and_exit_1():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is visible: gpu_check would run")
    result = subprocess.run([sys.executable, "-m", "bench.gpu_check"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bench.gpu_check: error: no CUDA GPU visible: "), result.stderr
    assert result.stdout == ""


def test_missing_json_folder_is_refused_first(tmp_path):
    out = tmp_path / "missing" / "report.json"
    assert gpu_check.main(["--json", str(out)]) == 1
    assert not out.parent.exists()


def test_copy_bandwidth_counts_read_and_write():
    assert gpu_check.copy_gbps(512 * 1024 * 1024, 1.0) == pytest.approx(1073.741824)
    assert gpu_check.copy_gbps(10**9, 2.0) == pytest.approx(1000.0)  # 2 GB moved in 2 ms


def test_iac_bytes_follow_the_plugin_traffic_model():
    """plugins/iacPlugin/README.md: 376.0 MB (FP16) / 752.0 MB (FP32) official, 564.0 MB corrected FP16."""
    shape = gpu_check.IAC_SHAPE
    assert gpu_check.iac_bytes(shape, 17, 3, 0, 2) == 376_012_800
    assert gpu_check.iac_bytes(shape, 17, 3, 0, 4) == 752_025_600
    assert gpu_check.iac_bytes(shape, 17, 3, 1, 2) == 564_019_200


def test_kernel_row_against_copy():
    row = gpu_check.kernel_row("iac", 376_012_800, 1.0, 500.0)
    assert row["gbps"] == pytest.approx(376.0128) and row["of_copy"] == pytest.approx(0.7520256)
    assert gpu_check.kernel_figure(row) == "376 GB/s (376 MB), 75 % of copy"


def test_table_and_paper_figure():
    rows = [{"name": "PyTorch IFAN float16 1280x720 eager", "ms": 28.0, "figure": gpu_check.paper_figure(28.0)},
            {"name": "compute-sanitizer", "ms": None, "figure": "not found: skipped"}]
    table = gpu_check.format_table(rows, "header").splitlines()
    assert table[0] == "header" and len(table) == 5
    assert table[3] == f"{'PyTorch IFAN float16 1280x720 eager':44s}    28.000  2.00x the paper's 0.014 s"
    assert table[4] == f"{'compute-sanitizer':44s}         -  not found: skipped"


def test_pytest_counts():
    assert gpu_check.pytest_counts("3 failed, 161 passed, 2 skipped in 12.3s") == {"failed": 3, "passed": 161,
                                                                                   "skipped": 2}
    assert gpu_check.pytest_counts("garbage") == {}


def test_kernel_figure_with_eager_time():
    row = dict(gpu_check.kernel_row("iac", 752_025_600, 2.0, 0.0), eager_ms=2.5)
    assert gpu_check.kernel_figure(row) == "376 GB/s (752 MB); 2.500 ms from Python"


def test_engines_go_through_the_cli(tmp_path, monkeypatch):
    """With TensorRT importable: ifan export, then ifan build and ifan profile per precision; the
    row takes the profile's GPU compute median."""
    import json
    import types

    pytest.importorskip("torch")
    monkeypatch.setitem(sys.modules, "tensorrt", types.ModuleType("tensorrt"))
    calls = []

    def fake_cli(cmd, env):
        calls.append(cmd[3])
        if cmd[3] == "profile":
            report = Path(cmd[cmd.index("--json") + 1])
            report.write_text(json.dumps({"results": [{"gpu_compute_ms": {"median": 7.0}, "latency_ms": {"median": 9.0}}]}))

    monkeypatch.setattr(gpu_check, "_run_cli", fake_cli)
    rows = gpu_check.time_engines(tmp_path, tmp_path, ["fp32", "fp16"])
    assert calls == ["export", "build", "profile", "build", "profile"]
    assert [(r["name"], r["ms"], r["figure"]) for r in rows] == [
        ("TensorRT engine fp32 1280x720", 7.0, "0.50x the paper's 0.014 s"),
        ("TensorRT engine fp16 1280x720", 7.0, "0.50x the paper's 0.014 s")]


def test_no_tensorrt_no_engine_rows(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # import fails
    assert gpu_check.time_engines(tmp_path, tmp_path, ["fp16"]) == []


def test_check_rows():
    tests = {"rc": 1, "counts": {"failed": 2, "passed": 160}}
    sanitizer = {"memcheck": {"rc": 0, "summary": ["========= ERROR SUMMARY: 0 errors"]}}
    rows = gpu_check.check_rows(tests, sanitizer, "not built (CMake found no TensorRT)")
    assert [(r["name"], r["figure"]) for r in rows] == [
        ("TensorRT plugin", "not built (CMake found no TensorRT)"),
        ("GPU tests (pytest)", "FAILED: 2 failed, 160 passed"),
        ("compute-sanitizer memcheck", "ok: ========= ERROR SUMMARY: 0 errors")]
    assert gpu_check.check_rows({}, {})[0]["figure"] == "not found: skipped"
