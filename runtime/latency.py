"""Glass-to-glass figures of a live run: capture-to-display latency and inference time per
frame, as p50/p90/p99, with the frames dropped; the `--json` report of `ifan demo`."""

from __future__ import annotations

import os
import platform

from .stats import percentile

QUANTILES = (50, 90, 99)


def percentiles(values) -> dict[str, float] | None:
    """{"p50", "p90", "p99"} in the values' unit, rounded to 0.01; None when there are none."""
    values = list(values)
    if not values:
        return None
    return {f"p{q}": round(percentile(values, q), 2) for q in QUANTILES}


def summary_line(name: str, values) -> str:
    """`latency p50 12.3 / p90 15.0 / p99 20.1 ms` (or `latency: no frames`)."""
    p = percentiles(values)
    if p is None:
        return f"{name}: no frames"
    return f"{name} " + " / ".join(f"{k} {v:.1f}" for k, v in p.items()) + " ms"


def machine() -> dict:
    """The CPU, core count and OS of the run, for reports read on another machine."""
    info = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "os": f"{platform.system()} {platform.release()}", "python": platform.python_version()}
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith(("model name", "Model")):  # x86, then Jetson/ARM
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return info


def demo_report(stats, *, source: str, model: str, backend: str, precision: str, opencv: str) -> dict:
    """What `ifan demo --json` writes: the run's counts and percentiles with what produced them."""
    return {
        "source": source, "model": model, "backend": backend, "precision": precision,
        "machine": machine(), "opencv": opencv,
        "frames": {"read": stats.read, "processed": stats.processed, "dropped": stats.dropped,
                   "shown": stats.shown, "not_shown": stats.not_shown, "reconnects": stats.reconnects},
        "elapsed_s": round(stats.elapsed_s, 3),
        "latency_ms": percentiles(stats.latency_ms),  # capture -> on screen (or written)
        "inference_ms": percentiles(stats.inference_ms),
    }
