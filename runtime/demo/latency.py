"""Glass-to-glass figures of a live run: capture-to-display latency and inference time per
frame, as p50/p90/p99, with the frames dropped; where a frame's time goes (capture: reading it
from the source; host: conversions around the network; queue: waiting in the mailbox and behind
the frames ahead of it; device: upload, compute and download); the `--json` report of `ifan demo`."""

from __future__ import annotations

import os
import platform

from ..measure.stats import percentile

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


STAGES = ("capture", "host", "queue", "device")


def stages_line(stats) -> str:
    """`p50 per frame: capture 2.1, host 4.0, queue 1.2, device 9.8 ms` (stages without samples left out)."""
    parts = []
    for stage in STAGES:
        p = percentiles(getattr(stats, f"{stage}_ms", ()))
        if p is not None:
            parts.append(f"{stage} {p['p50']:.1f}")
    return "p50 per frame: " + (", ".join(parts) + " ms" if parts else "no frames")


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


def demo_report(stats, *, source: str, model: str, backend: str, precision: str, opencv: str,
                memory_path: str | None = None, frames_in_flight: int = 1, device_memory: dict | None = None) -> dict:
    """What `ifan demo --json` writes: the run's counts and percentiles with what produced them.
    memory_path: "copy" or "zero-copy" for TensorRT, "pageable" for ONNX Runtime on a GPU (None
    on the CPU); device_memory: the
    TensorRT pipeline's activation block (shared by its slots) and I/O bytes per slot."""
    memory = device_memory or {}
    return {
        "source": source, "model": model, "backend": backend, "precision": precision,
        "memory_path": memory_path, "frames_in_flight": frames_in_flight,
        "activation_bytes": memory.get("activation_bytes"),
        "activation_bytes_per_slot": (memory["activation_bytes"] // frames_in_flight
                                      if memory.get("activation_shared_by_slots") else memory.get("activation_bytes")),
        "io_bytes_per_slot": memory.get("io_bytes_per_slot"),
        "machine": machine(), "opencv": opencv,
        "frames": {"read": stats.read, "processed": stats.processed, "dropped": stats.dropped,
                   "shown": stats.shown, "not_shown": stats.not_shown, "reconnects": stats.reconnects},
        "elapsed_s": round(stats.elapsed_s, 3),
        "latency_ms": percentiles(stats.latency_ms),  # capture -> on screen (or written)
        "inference_ms": percentiles(stats.inference_ms),
        "stages_ms": {stage: percentiles(getattr(stats, f"{stage}_ms", ())) for stage in STAGES},
    }
