"""The rows of `ifan benchmark`: every prepared model (ONNX graphs, engines) run on its backend,
one table of format x precision x speed x accuracy (the question "which one do I ship"); the
graphs and engines themselves are prepared by the benchmark job (ifan_trt.jobs.benchmark). The run's
settings are one frozen BenchmarkRequest, defined here and taken by the job.

Per row: file size, end-to-end latency (median, p90) at one shape,
PSNR and SSIM against the data set's ground truth (plus the blurry input's row), PSNR against
the FP32 model's output and the share of the FP32 network's own correction that the row keeps
(1 - ||out - out_fp32|| / ||out_fp32 - input||, averaged over images).

Resumable: every row is stored with a key made of the SHA-256 of its model file, of every data
image and of the settings; a rerun with the same key reuses the row instead of measuring again.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ifan_trt.files import sha256_file
from ifan_trt.log import get as get_logger
from ifan_trt.precisions import NAMES as PRECISIONS
from ifan_trt.progress import Bars, bar

log = get_logger(__name__)

COLUMNS = ("format", "precision", "backend", "bytes", "latency_ms_median", "latency_ms_p90", "psnr", "ssim",
           "psnr_vs_fp32", "correction_kept")


@dataclass(frozen=True)
class BenchmarkRequest:
    """One benchmark run, as asked (ifan_trt.jobs.benchmark.benchmark) and as measured here, its
    open fields then decided (`dataclasses.replace`). data: a test set with ground truth; out_dir:
    models, outputs and reports; the model: a checkpoint or an ONNX export (neither: the bundled
    model); shape: BxCxHxW of the latency runs; calib_images: None calibrates on data; calib_size:
    None is a fixed-size graph's own HxW, else 256x256; build_engines: None builds engines where
    engines can run here; progress: bars (ifan_trt.progress), None draws none."""
    data: Path
    out_dir: Path
    checkpoint: str | os.PathLike | None = None
    onnx: str | os.PathLike | None = None
    shape: tuple[int, int, int, int] = (1, 3, 384, 512)
    precisions: tuple[str, ...] = PRECISIONS
    calib_images: Path | None = None
    calib_count: int = 32
    calib_size: tuple[int, int] | None = None
    warmup: int = 2
    iterations: int = 10
    limit: int | None = None
    threads: int | None = None
    device: str = "cpu"
    build_engines: bool | None = None
    progress: Bars | None = field(default=None, compare=False)
    size_option: str = field(default="calib_size", compare=False)  # how errors name calib_size (the CLI: its flag)

    def __post_init__(self):  # paths and tuples whatever the caller gave (str, PathLike, list)
        for name in ("data", "out_dir", "calib_images"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, Path(value))
        for name in ("shape", "precisions", "calib_size"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, tuple(value))


@dataclass
class Model:
    format: str  # "onnx" or "engine"
    precision: str
    path: Path
    backend: str  # "onnxruntime" or "tensorrt"


@dataclass
class Bench:
    settings: BenchmarkRequest
    rows: list[dict] = field(default_factory=list)
    engines_absent: str | None = None  # why the table has no engine rows (None: it has them)


def engines_note(bench: Bench) -> str | None:
    """The one line that says why the table has no TensorRT engine rows."""
    return f"no TensorRT engine rows: {bench.engines_absent}" if bench.engines_absent else None


def log_step(msg: str) -> None:
    log.info(msg)


def content_key(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


# ---------------------------------------------------------------- measuring

def data_pairs(s: BenchmarkRequest):
    from ifan_trt.datasets import find_pairs

    pairs = find_pairs(s.data)[1]
    return pairs[: s.limit] if s.limit else pairs


def _outputs_dir(s: BenchmarkRequest, model: Model) -> Path:
    return s.out_dir / "outputs" / f"{model.format}-{model.precision}"


def _open(model: Model, s: BenchmarkRequest):
    from ..executors.backends import open_executor

    kwargs = {"onnx": str(model.path)} if model.format == "onnx" else {"engine": str(model.path)}
    return open_executor(model.backend, threads=s.threads, device=s.device, **kwargs)


def measure(model: Model, s: BenchmarkRequest, fp32_dir: Path | None) -> dict:
    """One row: latency at the shape, accuracy on the data set (outputs kept as .npy so that the
    PSNR against FP32 of a later row can be computed without rerunning FP32)."""
    from ifan_trt.imageio import read_image
    from ifan_trt.metrics import psnr, ssim
    from ..images.pipeline import deblur_image
    from .profiler import profile

    out_dir = _outputs_dir(s, model)
    out_dir.mkdir(parents=True, exist_ok=True)
    scores = {"psnr": [], "ssim": [], "psnr_vs_fp32": [], "correction_kept": []}
    with _open(model, s) as executor:
        backend = executor.describe()
        timing = profile(executor, s.shape, model.path.name, warmup=s.warmup, iterations=s.iterations,
                         progress=False).summary
        for pair in data_pairs(s):
            source, target = read_image(pair.source), read_image(pair.target)
            out = deblur_image(executor, source).rgb
            np.save(out_dir / f"{pair.name}.npy", out)
            scores["psnr"].append(psnr(out, target.rgb))
            scores["ssim"].append(ssim(out, target.rgb))
            if fp32_dir is not None:
                ref = np.load(fp32_dir / f"{pair.name}.npy")
                scores["psnr_vs_fp32"].append(psnr(out, ref))
                change = float(np.linalg.norm(ref - source.rgb))
                lost = float(np.linalg.norm(out - ref)) / change if change > 0 else 0.0
                scores["correction_kept"].append(1.0 - lost)
    mean = lambda v: float(np.mean(v)) if v else None
    return {"format": model.format, "precision": model.precision, "backend": backend,
            "model": str(model.path), "bytes": model.path.stat().st_size,
            "latency_ms_median": timing.median, "latency_ms_p90": timing.p90,
            **{k: mean(v) for k, v in scores.items()}}


def input_row(s: BenchmarkRequest) -> dict:
    from ifan_trt.imageio import read_image
    from ifan_trt.metrics import psnr, ssim

    pairs = data_pairs(s)
    images = [(read_image(p.source).rgb, read_image(p.target).rgb) for p in pairs]
    return {"format": "input", "precision": "-", "backend": "-", "model": "-", "bytes": None,
            "latency_ms_median": None, "latency_ms_p90": None,
            "psnr": float(np.mean([psnr(a, b) for a, b in images])),
            "ssim": float(np.mean([ssim(a, b) for a, b in images])), "psnr_vs_fp32": None, "correction_kept": None}


def _row_key(model: Model, s: BenchmarkRequest, data_hash: str, fp32_key: str | None) -> str:
    return content_key(sha256_file(model.path), data_hash, model.format, model.backend, s.shape, s.warmup,
                s.iterations, s.threads, s.device, fp32_key)


def measure_rows(models: list[Model], s: BenchmarkRequest, src: Path, previous: dict, state: dict,
                 engines_absent: str | None = None) -> Bench:
    """A row per model after the input's, FP32 first (the reference); a row whose key (model,
    data and settings hashes) an earlier run stored is reused. The JSON is saved after each row.
    engines_absent: why there are no engine rows (kept in every report)."""
    data_hash = content_key([(sha256_file(p.source), sha256_file(p.target)) for p in data_pairs(s)])
    done = {r.get("key"): r for r in previous.get("rows", []) if r.get("key")}
    bench, fp32_key = Bench(s, [input_row(s)], engines_absent), None
    reference = _outputs_dir(s, Model("onnx", "fp32", src, "onnxruntime"))  # the FP32 model every row is held to
    for model in bar(s.progress, models, desc="benchmark", unit="model"):
        is_reference = (model.format, model.precision) == ("onnx", "fp32")
        key = _row_key(model, s, data_hash, fp32_key)
        row = done.get(key)
        if row is None or not _outputs_dir(s, model).is_dir():
            row = {**measure(model, s, None if is_reference else reference), "key": key, "reused": False}
        else:
            row = {**row, "reused": True}
        if is_reference:
            fp32_key = key
            row.update(psnr_vs_fp32=None, correction_kept=1.0)
        bench.rows.append(row)
        save_state(s, bench, state)  # after every row: an interrupted run keeps what it finished
    return bench


def previous_state(s: BenchmarkRequest) -> dict:
    return _previous(s.out_dir / "benchmark.json")


def _previous(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def save_state(s: BenchmarkRequest, bench: Bench, state: dict) -> None:
    from ifan_trt.reports import write_json

    write_json(s.out_dir / "benchmark.json", {"settings": _settings_dict(s), "rows": bench.rows, "prepared": state,
                                              "engines_absent": bench.engines_absent})


def _settings_dict(s: BenchmarkRequest) -> dict:
    return {"data": str(s.data), "shape": "x".join(map(str, s.shape)), "precisions": list(s.precisions),
            "calib_images": str(s.calib_images), "calib_count": s.calib_count,
            "calib_size": "x".join(map(str, s.calib_size)), "warmup": s.warmup, "iterations": s.iterations,
            "images": len(data_pairs(s)), "threads": s.threads}


# ---------------------------------------------------------------- reports

def _cell(row: dict, key: str) -> str:
    value = row.get(key)
    if value is None:
        return "-"
    if key == "bytes":
        return f"{value / 1e6:.2f} MB"
    if key == "ssim":
        return f"{value:.4f}"
    if key == "correction_kept":
        return f"{100 * value:.1f} %"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


HEADER = ("format", "precision", "backend", "size", "median ms", "p90 ms", "PSNR dB", "SSIM", "PSNR vs FP32",
          "correction kept")


def table_rows(bench: Bench) -> list[list[str]]:
    return [[_cell(r, k) for k in COLUMNS] for r in bench.rows]


def caption(bench: Bench) -> str:
    from ifan_trt.reports import machine

    s, m = bench.settings, machine()
    return (f"{len(data_pairs(s))} images of {s.data}; latency end to end at {'x'.join(map(str, s.shape))}, "
            f"{s.iterations} runs after {s.warmup} warm-up; calibrated on {s.calib_images}; "
            f"machine: {m['cpu']}, {m['cores']} cores, load {m.get('load_average_1m', '?')}")


def to_markdown(bench: Bench) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * 3 + "---:|" * (len(HEADER) - 3)]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(bench)]
    note = engines_note(bench)
    return "\n".join(lines) + "\n\n" + caption(bench) + "\n" + (f"\n{note}\n" if note else "")


def to_csv(bench: Bench) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(COLUMNS + ("model", "reused"))
    for r in bench.rows:
        writer.writerow([("" if r.get(k) is None else r.get(k)) for k in COLUMNS + ("model", "reused")])
    return buf.getvalue()


def to_png(bench: Bench) -> bytes:
    """Latency against PSNR, one labelled point per model, the input's PSNR as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    for r in bench.rows:
        if r["format"] == "input":
            ax.axhline(r["psnr"], color="grey", linestyle="--", linewidth=1, label=f"input {r['psnr']:.2f} dB")
            continue
        marker = "s" if r["format"] == "engine" else "o"  # one legend entry per model: labels never overlap
        ax.scatter(r["latency_ms_median"], r["psnr"], s=45, marker=marker,
                   label=f"{r['format']} {r['precision']} ({r['backend']}), {r['bytes'] / 1e6:.1f} MB")
    ax.set_xlabel(f"median latency at {'x'.join(map(str, bench.settings.shape))} (ms)")
    ax.set_ylabel("PSNR vs ground truth (dB)")
    ax.set_title(caption(bench), fontsize=6, wrap=True)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def write_reports(bench: Bench, png: bool = True) -> list[Path]:
    """benchmark.md, benchmark.csv, benchmark.png (the JSON is kept current by run_benchmark)."""
    from ifan_trt.files import write_bytes

    out = bench.settings.out_dir
    written = [out / "benchmark.json"]
    for name, render in (("benchmark.md", to_markdown), ("benchmark.csv", to_csv)) + \
            ((("benchmark.png", to_png),) if png else ()):
        data = render(bench)
        write_bytes(out / name, data if isinstance(data, bytes) else data.encode(), overwrite=True)
        written.append(out / name)
    return written
