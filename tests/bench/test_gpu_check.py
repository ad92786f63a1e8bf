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


def _fake_profile(cmd, median=7.0):
    import json

    report = Path(cmd[cmd.index("--json") + 1])
    report.write_text(json.dumps({"results": [{"gpu_compute_ms": {"median": median}, "latency_ms": {"median": 9.0}}]}))


@pytest.fixture
def with_tensorrt(monkeypatch):
    import types

    pytest.importorskip("torch")
    monkeypatch.setitem(sys.modules, "tensorrt", types.ModuleType("tensorrt"))


def test_engines_go_through_the_cli(tmp_path, monkeypatch, with_tensorrt):
    """With TensorRT importable and the plugin built: a dynamic export, then per precision ifan
    build with a static 720x1280 profile (a fixed-size export would refuse the default profile)
    and ifan profile; the row takes the profile's GPU compute median."""
    (tmp_path / "libifan_iac_plugin_trt10.so").write_bytes(b"")
    calls = []

    def fake_cli(cmd, env):
        calls.append(cmd[3:])
        assert env["IFAN_TRT_PLUGIN"] == str(tmp_path / "libifan_iac_plugin_trt10.so")
        if cmd[3] == "profile":
            _fake_profile(cmd)

    monkeypatch.setattr(gpu_check, "_run_cli", fake_cli)
    rows = gpu_check.time_engines(tmp_path, tmp_path, ["fp32", "fp16"])
    assert [c[0] for c in calls] == ["export", "build", "profile", "build", "profile"]
    assert "--static-size" not in calls[0] and "--static-batch" not in calls[0]
    build = calls[1]
    assert build[build.index("--shapes") + 1] == "min=1x3x720x1280,opt=1x3x720x1280,max=1x3x720x1280"
    assert [(r["name"], r["ms"], r["figure"]) for r in rows] == [
        ("TensorRT engine fp32 1280x720", 7.0, "0.50x the paper's 0.014 s"),
        ("TensorRT engine fp16 1280x720", 7.0, "0.50x the paper's 0.014 s")]


def test_no_plugin_skips_engines_with_the_reason(tmp_path, monkeypatch, with_tensorrt):
    monkeypatch.setattr(gpu_check, "_run_cli", lambda cmd, env: pytest.fail(f"ran {cmd}"))
    rows = gpu_check.time_engines(tmp_path, tmp_path, ["fp16"])
    assert rows == [{"name": "TensorRT engines", "ms": None,
                     "figure": f"skipped: no TensorRT plugin in {tmp_path} (see the TensorRT plugin row)"}]
    assert not gpu_check.failed({}, rows)


def test_a_failed_build_is_a_row_and_the_next_precision_still_runs(tmp_path, monkeypatch, with_tensorrt):
    (tmp_path / "libifan_iac_plugin_trt10.so").write_bytes(b"")
    outcomes = {"build": iter(["ifan build failed: ifan build: error: out of memory", None]), "export": iter([None])}

    def fake_cli(cmd, env):
        if cmd[3] == "profile":
            _fake_profile(cmd, 14.0)
            return None
        return next(outcomes[cmd[3]])

    monkeypatch.setattr(gpu_check, "_run_cli", fake_cli)
    rows = gpu_check.time_engines(tmp_path, tmp_path, ["fp32", "fp16"])
    assert [(r["name"], r["ms"], r["figure"]) for r in rows] == [
        ("TensorRT engine fp32 1280x720", None, "ifan build failed: ifan build: error: out of memory"),
        ("TensorRT engine fp16 1280x720", 14.0, "1.00x the paper's 0.014 s")]
    assert gpu_check.failed({}, rows)


def test_cli_step_failure_and_timeout_are_one_line(monkeypatch):
    monkeypatch.setattr(gpu_check, "CLI_TIMEOUT_S", 0.5)
    slow = [sys.executable, "-c", "import time; time.sleep(30)", "build"]
    assert gpu_check._run_cli(slow, dict()) == "ifan build timed out after 0.5 s"
    bad = [sys.executable, "-c", "import sys; print('noise'); sys.exit('ifan build: error: no plugin')", "build"]
    assert gpu_check._run_cli(bad, dict()) == "ifan build failed: ifan build: error: no plugin"
    assert gpu_check._run_cli([sys.executable, "-c", "pass", "build"], dict()) is None


def test_timed_out_tests_and_sanitizer_say_so(monkeypatch, tmp_path):
    monkeypatch.setattr(gpu_check, "run_step", lambda cmd, timeout, **kw: (None, "12 passed"))
    tests = gpu_check.run_tests({})
    assert tests["rc"] is None and tests["timed_out_s"] == gpu_check.TESTS_TIMEOUT_S
    tool = tmp_path / "compute-sanitizer"
    tool.write_text("")
    monkeypatch.setattr(gpu_check, "find_sanitizer", lambda: str(tool))
    sanitizer = gpu_check.run_sanitizer({})
    rows = gpu_check.check_rows(tests, sanitizer)
    assert [r["figure"] for r in rows] == [f"timed out: after {gpu_check.TESTS_TIMEOUT_S} s; 12 passed",
                                           f"timed out after {gpu_check.SANITIZER_TIMEOUT_S} s",
                                           f"timed out after {gpu_check.SANITIZER_TIMEOUT_S} s"]
    assert gpu_check.SANITIZER_TIMEOUT_S >= 300  # torch under memcheck on a Jetson takes minutes
    assert gpu_check.failed({"tests": tests, "sanitizer": sanitizer}, rows)


def test_nvcc_found_where_jetpack_puts_it_and_given_to_cmake(tmp_path, monkeypatch):
    import types

    nvcc = tmp_path / "cuda" / "bin" / "nvcc"
    nvcc.parent.mkdir(parents=True)
    nvcc.write_text("")
    monkeypatch.setattr(gpu_check, "JETPACK_NVCC", nvcc)
    monkeypatch.setattr(gpu_check.shutil, "which", lambda name: "/usr/bin/cmake" if name == "cmake" else None)
    assert gpu_check.find_nvcc() == str(nvcc)
    commands = []

    def fake_run(cmd, **kwargs):
        commands.append(cmd)
        if "--target" in cmd:
            library = tmp_path / "build" / "plugins" / "iacPlugin" / "libifan_iac_cuda.so"
            library.parent.mkdir(parents=True)
            library.write_text("")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(gpu_check.subprocess, "run", fake_run)
    torch = types.SimpleNamespace(cuda=types.SimpleNamespace(get_device_capability=lambda: (8, 7)))
    library, plugin = gpu_check.build_library(torch, tmp_path / "build")
    assert f"-DCMAKE_CUDA_COMPILER={nvcc}" in commands[0] and "-DCMAKE_CUDA_ARCHITECTURES=87" in commands[0]
    assert library.name == "libifan_iac_cuda.so" and plugin == "not built (CMake found no TensorRT)"
    monkeypatch.setattr(gpu_check, "JETPACK_NVCC", tmp_path / "absent" / "nvcc")
    with pytest.raises(gpu_check.CheckError, match="nvcc is neither on PATH nor at .*absent/nvcc"):
        gpu_check.build_library(torch, tmp_path / "build")


def test_nothing_measured_is_lost_when_later_steps_fail(tmp_path, monkeypatch, capsys):
    """The table and the JSON keep the copy row when the kernel, the model and the engines fail."""
    import json
    import types

    torch = types.SimpleNamespace(__version__="2.x", version=types.SimpleNamespace(cuda="12.6"))
    library = tmp_path / "libifan_iac_cuda.so"
    monkeypatch.setattr(gpu_check, "gpu_visible", lambda: (torch, "Orin"))
    monkeypatch.setattr(gpu_check, "build_library", lambda torch, build_dir: (library, "built libifan_iac_plugin_trt10.so"))
    monkeypatch.setattr(gpu_check, "run_tests", lambda env: {"rc": 0, "counts": {"passed": 3}, "tail": []})
    monkeypatch.setattr(gpu_check, "run_sanitizer", lambda env: {})
    monkeypatch.setattr(gpu_check, "measure_copy", lambda torch, runs: (1.0, 100.0))

    def broken(*args):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2 GiB\nmore")

    monkeypatch.setattr(gpu_check, "measure_kernel", broken)
    monkeypatch.setattr(gpu_check, "time_model", broken)
    monkeypatch.setattr(gpu_check, "time_engines", broken)
    out = tmp_path / "report.json"
    assert gpu_check.main(["--json", str(out)]) == 1
    table = capsys.readouterr().out
    figures = {r["name"]: r["figure"] for r in json.loads(out.read_text())["rows"]}
    assert figures["device-to-device copy 512 MiB"] == "100 GB/s (read + write)"
    for name in ("IAC kernel", "PyTorch IFAN 1280x720", "TensorRT engines"):
        assert figures[name] == "FAILED: RuntimeError: CUDA out of memory. Tried to allocate 2 GiB"
        assert name in table


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
