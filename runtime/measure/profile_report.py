"""`ifan profile` results as a terminal table, JSON, CSV and a PNG (latency distribution and
stage breakdown), several models side by side."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from ifan_trt.errors import IfanError
from ifan_trt.files import write_bytes

from .profiler import STAGES, ProfileResult

_COLUMNS = ("min", "mean", "median", "p90", "p95", "p99", "max")


def _shapes(results: list[ProfileResult]) -> str:
    shapes = list(dict.fromkeys("x".join(map(str, r.shape)) for r in results))
    return ("shape " if len(shapes) == 1 else "shapes ") + ", ".join(shapes)


def table(results: list[ProfileResult], top_layers: int = 10) -> str:
    lines = []
    head = f"{'model':<36} {'backend':<24} " + " ".join(f"{c:>8}" for c in _COLUMNS) + f" {'cv':>6} {'img/s':>8}"
    lines += [f"end-to-end latency (ms), {_shapes(results)}", head, "-" * len(head)]
    for r in results:
        s = r.summary
        lines.append(f"{r.label[:36]:<36} {r.backend[:24]:<24} " + " ".join(f"{getattr(s, c):8.2f}" for c in _COLUMNS)
                     + f" {s.cv:6.1%} {r.throughput:8.2f}")
    lines += ["", "mean per stage (ms)", f"{'model':<36} " + " ".join(f"{s:>11}" for s in STAGES)]
    for r in results:
        means = r.stage_means()
        lines.append(f"{r.label[:36]:<36} " + " ".join(f"{means[s]:11.2f}" if s in means else f"{'-':>11}"
                                                       for s in STAGES))
    for r in results:
        if r.gpu_ms:
            from .stats import summarize

            g = summarize(r.gpu_ms)
            lines.append(f"{r.label}: GPU compute (CUDA events) mean {g.mean:.2f} ms, median {g.median:.2f}, p99 {g.p99:.2f}")
        if r.layer_ms:
            lines.append(f"{r.label}: slowest layers (TensorRT profiler, mean ms per run)")
            for name, ms in sorted(r.layer_ms.items(), key=lambda kv: -kv[1])[:top_layers]:
                lines.append(f"  {ms:9.3f}  {name}")
        if r.power:
            lines.append(power_line(r))
        for w in r.warnings:
            lines.append(f"warning: {r.label}: {w}")
    return "\n".join(lines)


def power_line(r: ProfileResult) -> str:
    """Mean board power and energy per frame beside the latency, with what the board was set to."""
    p = r.power
    per_frame = f", {p['mj_per_frame']:.1f} mJ per frame" if p.get("mj_per_frame") is not None else ""
    state = f"; {p['board']}" if p.get("board") else ""
    return (f"{r.label}: power {p['mean_w']:.2f} W mean ({p['basis']}, {p['source']}, {p['samples']} samples "
            f"over {p['seconds']:.1f} s){per_frame}, latency mean {r.summary.mean:.2f} ms{state}")


def to_json(results: list[ProfileResult], skipped: dict[str, str] | None = None) -> str:
    """skipped: {model: why it was not profiled}, kept in the report beside the results."""
    from ifan_trt.reports import envelope

    body = {"results": [r.to_dict() for r in results]}
    if skipped:
        body["skipped"] = [{"model": name, "reason": why} for name, why in skipped.items()]
    return json.dumps(envelope(body), indent=2)


def to_csv(results: list[ProfileResult]) -> str:
    """One row per model: the statistics, throughput and the mean of every stage."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["model", "backend", "shape", "count", *(f"{c}_ms" for c in _COLUMNS), "std_ms", "cv",
                     "throughput_img_s", *(f"{s}_ms" for s in STAGES), "gpu_compute_mean_ms", "power_mean_w",
                     "mj_per_frame"])
    for r in results:
        s, means = r.summary, r.stage_means()
        gpu = f"{sum(r.gpu_ms) / len(r.gpu_ms):.4f}" if r.gpu_ms else ""
        writer.writerow([r.label, r.backend, "x".join(map(str, r.shape)), s.count,
                         *(f"{getattr(s, c):.4f}" for c in _COLUMNS), f"{s.std:.4f}", f"{s.cv:.4f}",
                         f"{r.throughput:.3f}", *(f"{means[st]:.4f}" if st in means else "" for st in STAGES), gpu,
                         f"{r.power['mean_w']:.3f}" if r.power else "",
                         f"{r.power['mj_per_frame']:.3f}" if r.power and r.power.get("mj_per_frame") else ""])
    return buf.getvalue()


def to_png(results: list[ProfileResult]) -> bytes:
    try:
        import matplotlib
    except ImportError:
        raise IfanError("--png needs matplotlib: pip install 'ifan-trt[plot]'") from None

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (hist, bars) = plt.subplots(1, 2, figsize=(12, 4.5))
    import numpy as np

    everything = [v for r in results for v in r.e2e_ms]
    lo, hi = max(min(everything), 1e-3), max(everything)
    wide = hi / lo > 10  # models far apart: log axis so each distribution keeps its shape
    bins = np.geomspace(lo, hi * 1.001, 40) if wide else np.linspace(lo, hi * 1.001, 40)
    for r in results:
        hist.hist(r.e2e_ms, bins=bins, alpha=0.6, label=r.label)
    if wide:
        hist.set_xscale("log")
    hist.set(xlabel="end-to-end latency (ms)", ylabel="runs", title="latency distribution")
    hist.legend(fontsize=8)
    bottoms = [0.0] * len(results)
    labels = [r.label for r in results]
    for stage in STAGES:
        values = [r.stage_means().get(stage, 0.0) for r in results]
        if any(values):
            bars.bar(labels, values, bottom=bottoms, label=stage)
            bottoms = [b + v for b, v in zip(bottoms, values)]
    bars.set(ylabel="mean ms", title="stage breakdown")
    bars.legend(fontsize=8)
    bars.tick_params(axis="x", labelrotation=15, labelsize=8)
    fig.suptitle(f"ifan profile, {_shapes(results)}")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def write_reports(results: list[ProfileResult], json_path: str | os.PathLike | None = None,
                  csv_path: str | os.PathLike | None = None, png_path: str | os.PathLike | None = None,
                  overwrite: bool = True, skipped: dict[str, str] | None = None) -> list[Path]:
    written = []
    for path, render in ((json_path, lambda r: to_json(r, skipped)), (csv_path, to_csv), (png_path, to_png)):
        if path:
            data = render(results)
            write_bytes(path, data, overwrite)
            written.append(Path(path))
    return written
