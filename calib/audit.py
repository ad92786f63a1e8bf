"""Accuracy audit of a precision-reduced graph against the FP32 graph, on the CPU.

Both graphs run in ONNX Runtime (the export's session helper, so the plugin form runs too; FP16
tensors rounded explicitly, see calib.emulate) on
the same images; per image and on average we report PSNR, SSIM (ifan_trt.metrics, as
the paper computes them) and the largest absolute error
of the candidate's output against the FP32 output. The threshold applies to every image: one
image below it fails the audit.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ifan_trt.contract import INPUT
from ifan_trt.errors import IfanError
from ifan_trt.optional import require
from ifan_trt.progress import Bars, bar

from . import images as imgs
from ifan_trt import metrics


@dataclass
class ImageScore:
    image: str
    psnr: float
    ssim: float
    max_abs_error: float
    # ||candidate - fp32|| / ||fp32 - input||: the error relative to what the network changes.
    # IFAN adds a correction to its input; a model that corrects little has a high PSNR against
    # FP32 whatever the precision does to that correction, which this ratio shows.
    correction_error: float = 0.0


@dataclass
class AuditResult:
    fp32: str
    candidate: str
    size: str
    scores: list[ImageScore]
    min_psnr: float | None

    @property
    def mean(self) -> ImageScore:
        return ImageScore("mean", float(np.mean([s.psnr for s in self.scores])),
                          float(np.mean([s.ssim for s in self.scores])),
                          float(np.mean([s.max_abs_error for s in self.scores])),
                          float(np.mean([s.correction_error for s in self.scores])))

    @property
    def worst_psnr(self) -> float:
        return min(s.psnr for s in self.scores)

    @property
    def passed(self) -> bool:
        return self.min_psnr is None or self.worst_psnr >= self.min_psnr

    def to_dict(self) -> dict:
        def clean(v):  # JSON has no infinity: identical outputs give PSNR inf
            return None if isinstance(v, float) and math.isinf(v) else v

        rows = [{k: clean(v) for k, v in asdict(s).items()} for s in self.scores]
        return {"fp32": self.fp32, "candidate": self.candidate, "size": self.size,
                "min_psnr": self.min_psnr, "passed": self.passed,
                "mean": {k: clean(v) for k, v in asdict(self.mean).items() if k != "image"},
                "worst_psnr": clean(self.worst_psnr), "images": rows}

    def table_rows(self) -> list[list[str]]:
        return [[s.image, f"{s.psnr:.2f}", f"{s.ssim:.5f}", f"{s.max_abs_error:.2e}",
                 f"{100 * s.correction_error:.2f}"] for s in self.scores + [self.mean]]


HEADER = ["image", "PSNR dB", "SSIM", "max abs err", "corr. err %"]


def _session(path: Path):
    """Session for a graph file; FP16 graphs run emulated (see calib.emulate) so that the CPU
    sees the FP16 roundings a GPU makes."""
    from ifan_trt.export.ort_plugin import ort_session

    from ifan_trt.export import graph as graphs
    from .emulate import cpu_model

    model = graphs.load_model(path)
    try:
        return ort_session(cpu_model(model))
    except Exception as exc:  # ONNX Runtime reports a bad graph with its own exception types
        raise IfanError(f"{path}: ONNX Runtime cannot run this graph ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else ''})") from None


def audit(fp32_path: Path, candidate_path: Path, image_paths: list[Path], size: tuple[int, int] | None = None,
          min_psnr: float | None = None, progress: Bars | None = None) -> AuditResult:
    ref, cand = _session(Path(fp32_path)), _session(Path(candidate_path))
    names = [i.name for i in ref.get_inputs()]
    if sorted(names) != sorted(i.name for i in cand.get_inputs()):
        raise IfanError(f"{candidate_path}: inputs {[i.name for i in cand.get_inputs()]} differ from the "
                        f"FP32 graph's {names}")
    out_ref, out_cand = ref.get_outputs()[0].name, cand.get_outputs()[0].name
    scores = []
    for path in bar(progress, image_paths, desc="audit", unit="img"):
        feeds = imgs.feeds_for(names, path, size)
        a = ref.run([out_ref], feeds)[0][0].astype(np.float32).transpose(1, 2, 0)
        b = cand.run([out_cand], feeds)[0][0].astype(np.float32).transpose(1, 2, 0)
        if not np.all(np.isfinite(b)):
            scores.append(ImageScore(path.name, float("-inf"), float("nan"), float("inf")))
            continue
        x = feeds.get(INPUT, feeds[names[0]])[0].transpose(1, 2, 0)
        change = float(np.linalg.norm(a - x))
        corr = float(np.linalg.norm(b - a)) / change if change > 0 else 0.0
        scores.append(ImageScore(path.name, float(metrics.psnr(a, b)), float(metrics.ssim(a, b)),
                                 float(np.max(np.abs(a - b))), corr))
    size_text = f"{size[0]}x{size[1]}" if size else "native (cropped to a multiple of 8)"
    return AuditResult(str(fp32_path), str(candidate_path), size_text, scores, min_psnr)


def write_plot(result: AuditResult, path: Path, overwrite: bool = False) -> None:
    """PNG: PSNR per image against the threshold (matplotlib, Agg backend)."""
    matplotlib = require("matplotlib", "plot")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ifan_trt.files import write_bytes

    names = [s.image for s in result.scores]
    values = [min(s.psnr, 150.0) for s in result.scores]  # identical outputs: inf, drawn at 150
    fig, ax = plt.subplots(figsize=(max(5.0, 0.5 * len(names) + 2), 3.5), dpi=100)
    ax.bar(range(len(names)), values, color="#4c72b0")
    if result.min_psnr is not None:
        ax.axhline(result.min_psnr, color="#c44e52", linestyle="--", label=f"threshold {result.min_psnr:g} dB")
    ax.axhline(min(result.mean.psnr, 150.0), color="#55a868", label=f"mean {result.mean.psnr:.2f} dB")
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("PSNR vs FP32 (dB)")
    ax.set_title(Path(result.candidate).name, fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    write_bytes(path, buf.getvalue(), overwrite)


def write_json(result: AuditResult, path: Path, overwrite: bool = False) -> None:
    """The audit in the reports' JSON envelope (the command checked overwrite before the work)."""
    from ifan_trt.reports import write_json as write_report

    write_report(path, result.to_dict())
