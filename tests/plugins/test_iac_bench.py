"""bench/iac_plugin_gpu.py: exits 0 with the reason where it cannot run (no GPU/TensorRT), and the
traffic model behind its GB/s figures and the plugin README's numbers."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from bench.iac_network import IacSpec, iac_traffic_bytes

BENCH = Path(__file__).resolve().parents[2] / "bench" / "iac_plugin_gpu.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("iac_plugin_gpu", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_skips_cleanly_without_gpu():
    reason = load_bench().unavailable()
    if reason is None:
        pytest.skip("a GPU with TensorRT is present: the benchmark can run")
    result = subprocess.run([sys.executable, str(BENCH)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert f"skipped: {reason}" in result.stdout


def test_traffic_model_at_720p():
    """The figures in plugins/iacPlugin/README.md: c=128, 90x160, N=17, k=3."""
    shape = (1, 128, 90, 160)
    official, corrected = IacSpec(17, 3, 0, 1), IacSpec(17, 3, 1, 0)
    assert iac_traffic_bytes(shape, official, 2) == 17 * 6 * 1_843_200 * 2 == 376_012_800
    assert iac_traffic_bytes(shape, official, 4) == 752_025_600
    assert iac_traffic_bytes(shape, corrected, 2) == 17 * 9 * 1_843_200 * 2
    assert round(iac_traffic_bytes(shape, official, 2) / 204.8e9 * 1e3, 2) == 1.84  # ms, Orin AGX
    assert round(iac_traffic_bytes(shape, official, 2) / 68e9 * 1e3, 2) == 5.53     # ms, Orin Nano


def test_arguments():
    args = load_bench().parse_args(["--dtype", "fp32", "--n-iters", "8", "--mode", "corrected"])
    assert args.dtype == ["fp32"] and args.n_iters == 8 and args.mode == "corrected" and args.height == 90


class _FakeContext:
    """execute_async_v3 succeeds `good` times, then fails (as after a failed enqueue)."""

    def __init__(self, good):
        self.good = good

    def set_tensor_address(self, name, ptr):
        pass

    def execute_async_v3(self, stream):
        self.good -= 1
        return self.good >= 0


def _fakes(good):
    from types import SimpleNamespace

    context = _FakeContext(good)
    engine = SimpleNamespace(create_execution_context=lambda: context)
    runtime = SimpleNamespace(deserialize_cuda_engine=lambda plan: engine)
    class Logger:
        WARNING = 0

        def __init__(self, level):
            pass

    trt = SimpleNamespace(Runtime=lambda logger: runtime, Logger=Logger)
    event = SimpleNamespace(record=lambda stream: None, synchronize=lambda: None, elapsed_time=lambda other: 1.0)
    cuda = SimpleNamespace(Stream=lambda: SimpleNamespace(cuda_stream=0), Event=lambda enable_timing: event)
    tensor = SimpleNamespace(data_ptr=lambda: 0)
    torch = SimpleNamespace(cuda=cuda, empty_like=lambda t: tensor)
    return trt, torch, {"iac_features": tensor}


@pytest.mark.parametrize("good, where", [(0, "warm-up"), (3, "timed loop")])
def test_failed_enqueue_is_never_timed(good, where):
    """bench/iac_plugin_gpu.py checks execute_async_v3's result in the warm-up and the timed loop."""
    trt, torch, inputs = _fakes(good)
    with pytest.raises(RuntimeError, match=f"execute_async_v3 failed in the {where}"):
        load_bench().time_engine(trt, torch, b"plan", inputs, runs=5, warmup=2)


def test_timed_loop_returns_one_time_per_run():
    trt, torch, inputs = _fakes(100)
    assert load_bench().time_engine(trt, torch, b"plan", inputs, runs=5, warmup=2) == [1.0] * 5
