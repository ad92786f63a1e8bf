"""`ifan eval`: PSNR / SSIM / MAE of a model (checkpoint, ONNX or engine) on a test set.

Layouts (found by looking at DIR):
  DPDD     DIR/test_c/source, DIR/test_c/target; dual-pixel models also DIR/test_l/source and
           DIR/test_r/source (IFAN_dual).
  RealDOF  DIR/source, DIR/target (also any plain source/target pair of folders, e.g. `ifan synth`).
Source and target images are paired by file name (stem).

Metrics follow the paper (ifan_trt.metrics): float RGB in [0, 1], PSNR and SSIM with data range 1
over the channels, MAE averaged over channels; the first row of the table is the blurry input
against the target. LPIPS (AlexNet) is reported only when the `lpips` package and its weights are
installed (nothing is downloaded); otherwise the table says it was not computed.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np

from ifan_trt.datasets import Pair, find_pairs  # noqa: F401  (one owner of the folder layouts)
from ifan_trt.errors import IfanError
from ifan_trt.files import check_not_input, check_output_file, check_output_folder, write_bytes
from ifan_trt.metrics import mae, psnr, ssim
from ifan_trt.progress import Bars, bar


METRICS = ("psnr", "ssim", "mae")


def lpips_status() -> tuple[object | None, str]:
    """An LPIPS(AlexNet) scorer if usable offline, else (None, why not)."""
    try:
        import lpips  # noqa: F401
    except ImportError:
        return None, "LPIPS not computed: the `lpips` package is not installed"
    try:
        import contextlib

        with contextlib.redirect_stdout(io.StringIO()):
            import lpips

            # pretrained=True loads the linear layers shipped in the package; AlexNet comes from
            # torchvision's cache: if it is not there, this would download, so check first
            import torch.hub

            cached = Path(torch.hub.get_dir()) / "checkpoints"
            if not any(cached.glob("alexnet-*.pth")):
                return None, "LPIPS not computed: torchvision's AlexNet weights are not cached (no downloads)"
            return lpips.LPIPS(net="alex", verbose=False).eval(), "LPIPS (AlexNet)"
    except Exception as exc:  # any failure of an optional metric must not stop the evaluation
        return None, f"LPIPS not computed: {type(exc).__name__}: {exc}"


def _lpips(scorer, a: np.ndarray, b: np.ndarray) -> float:
    import torch

    t = lambda x: torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)[None], np.float32)) * 2 - 1
    with torch.no_grad():
        return float(scorer(t(a), t(b)))


def check_outputs(pairs: list, models: list, csv_path, save_dir, overwrite: bool, table=None) -> None:
    """Before any image is scored: no output is an input or lies in the data's folders, and none
    exists unless overwrite."""
    inputs = [*models] + [p for pair in pairs for p in (pair.source, pair.target, pair.left, pair.right)]
    folders = sorted({str(Path(p).parent) for p in inputs[len(models):] if p})
    for flag, path in (("--csv", csv_path), ("--table", table)):
        if path:
            check_not_input(path, inputs, folders, what=flag)
            check_output_file(path, overwrite, create_parent=True, what=flag)
    if save_dir:
        check_not_input(save_dir, inputs, folders, what="--save-dir")
        check_output_folder(save_dir, label=f"--save-dir {save_dir}")
        for pair in pairs:
            check_output_file(Path(save_dir) / f"{pair.name}.png", overwrite, create_parent=True, what="--save-dir")


def _model_name(checkpoint, onnx, engine) -> str:
    if onnx or engine:
        return Path(onnx or engine).name
    return Path(checkpoint).name if checkpoint else "default model"


def _scores(prefix: str, img: np.ndarray, target: np.ndarray, scorer) -> dict[str, float]:
    """PSNR, SSIM, MAE (and LPIPS when a scorer is there) of img against target."""
    row = {f"{prefix}_psnr": psnr(img, target), f"{prefix}_ssim": ssim(img, target), f"{prefix}_mae": mae(img, target)}
    if scorer is not None:
        row[f"{prefix}_lpips"] = _lpips(scorer, img, target)
    return row


def evaluate_folder(data: str | os.PathLike, checkpoint: str | None = None, onnx: str | None = None,
                    engine: str | None = None, csv_path: str | os.PathLike | None = None,
                    save_dir: str | os.PathLike | None = None, official_crop: bool = False,
                    threads: int | None = None, progress: Bars | None = None, limit: int | None = None,
                    overwrite: bool = False, backend: str = "auto", tiling=None, batch: int | None = None,
                    **model_options) -> dict:
    """Score the model and the input on every pair; returns {"input": {...}, "model": {...}, ...}.
    The images run through the deblur orchestration (ifan_trt.runtime.images.batch): same-size images
    batched where the backend batches, tiled above the pixel budget. progress: bars for the pairs
    (ifan_trt.progress)."""
    from ifan_trt.runtime.executors.backends import model_label, open_executor
    from ifan_trt.runtime.images.batch import DeblurOptions, Job, deblurred_images, raise_failure, write_result
    from ifan_trt.runtime.images.pipeline import DEFAULT_MAX_PIXELS, Tiling

    with open_executor(backend, checkpoint=checkpoint, onnx=onnx, engine=engine, threads=threads,
                       **model_options) as executor:  # closed after the run (an engine holds GPU memory)
        layout, pairs = find_pairs(data, dual=executor.info.dual)
        pairs = pairs[:limit] if limit else pairs
        check_outputs(pairs, [checkpoint, onnx, engine], csv_path, save_dir, overwrite)
        scorer, lpips_note = lpips_status()
        options = DeblurOptions(batch=batch, tiling=tiling or Tiling(max_pixels=DEFAULT_MAX_PIXELS),
                                crop_official=official_crop, overwrite=overwrite)
        by_source = {pair.source: pair for pair in pairs}
        jobs = [Job(pair.source, Path(save_dir) / f"{pair.name}.png" if save_dir else None, pair.left, pair.right)
                for pair in pairs]
        rows = []
        with bar(progress, total=len(jobs), desc="eval", unit="img") as pairs_bar:
            for done in deblurred_images(executor, jobs, options, raise_failure):
                rows.append(_score_pair(by_source[done.job.source], done, official_crop, scorer))
                write_result(done, options, raise_failure)
                pairs_bar.update(1)

        keys = list(METRICS) + (["lpips"] if scorer is not None else [])
        summary = {
            "data": str(data), "layout": layout, "count": len(rows),
            "model": model_label(executor.model_path), "backend": executor.backend,
            "lpips": lpips_note, "official_crop": official_crop,
            "input": {k: float(np.mean([r[f"input_{k}"] for r in rows])) for k in keys},
            "output": {k: float(np.mean([r[f"model_{k}"] for r in rows])) for k in keys},
            "seconds_per_image": float(np.mean([r["seconds"] for r in rows])),
        }
    if csv_path:
        write_csv(csv_path, rows, overwrite)
    return summary


def _score_pair(pair: Pair, done, official_crop: bool, scorer) -> dict:
    """The CSV row of one pair: the input's and the model's scores against the target."""
    from ifan_trt.imageio import read_image
    from ifan_trt.runtime.images.padding import official_crop as crop8

    src, tgt = done.image, read_image(pair.target)
    if src.rgb.shape != tgt.rgb.shape:
        raise IfanError(f"{pair.target}: {tgt.rgb.shape[1]}x{tgt.rgb.shape[0]}, but the source is "
                        f"{src.rgb.shape[1]}x{src.rgb.shape[0]}")
    target = crop8(tgt.rgb) if official_crop else tgt.rgb
    source = crop8(src.rgb) if official_crop else src.rgb
    return {"image": pair.name, **_scores("input", source, target, scorer),
            **_scores("model", done.result.rgb, target, scorer), "seconds": done.seconds}


def write_csv(path: str | os.PathLike, rows: list[dict], overwrite: bool = False) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    for r in rows:
        writer.writerow({k: (f"{v:.6f}" if isinstance(v, float) else v) for k, v in r.items()})
    write_bytes(path, buf.getvalue(), overwrite)


def format_table(summary: dict) -> str:
    """A paper-style Markdown table: the input row, then the model."""
    has_lpips = "lpips" in summary["input"]
    head = "| | PSNR (dB) ↑ | SSIM ↑ | MAE ↓ |" + (" LPIPS ↓ |" if has_lpips else "")
    rule = "|---|---:|---:|---:|" + ("---:|" if has_lpips else "")
    lines = [head, rule]
    for label, key in (("Input (blurry)", "input"), (f"{summary['model']} ({summary['backend']})", "output")):
        m = summary[key]
        cells = [f"{m['psnr']:.2f}", f"{m['ssim']:.4f}", f"{m['mae']:.4f}"]
        if has_lpips:
            cells.append(f"{m['lpips']:.4f}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    note = f"{summary['count']} images, {summary['layout']} layout, {summary['data']}"
    if not has_lpips:
        note += f"; {summary['lpips']}"
    return "\n".join(lines) + "\n\n" + note + "\n"
