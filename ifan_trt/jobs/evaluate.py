"""Evaluate a model: PSNR, SSIM and MAE on a test set with ground truth (DPDD, RealDOF or
source/target folders), per image and as a paper-style table with the input's row
(ifan_trt.training.evaluate; the images run as a deblur run does)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .requests import Naming, RunModel, as_is


@dataclass(frozen=True)
class EvaluateRequest:
    """data: the test set's folder; model: what runs (none of its files: the bundled model); csv:
    per-image metrics; table: the Markdown table also written here; save_dir: the deblurred images;
    limit: only the first N pairs; crop_official, tile, max_pixels, overlap, batch: as a deblur run."""
    data: str | os.PathLike
    model: RunModel = RunModel()
    csv: str | os.PathLike | None = None
    table: str | os.PathLike | None = None
    save_dir: str | os.PathLike | None = None
    limit: int | None = None
    crop_official: bool = False
    tile: tuple[int, int] | None = None
    max_pixels: int | None = None
    overlap: int | None = None
    batch: int | None = None
    overwrite: bool = False
    progress: Bars | None = field(default=None, compare=False)  # bars (ifan_trt.progress); None: none
    names: Naming = field(default=as_is, compare=False)


@dataclass(frozen=True)
class Evaluation:
    summary: dict  # {"input": {...}, "model": {...}, ...}: what `ifan eval --json` writes
    table: str  # the paper-style Markdown table
    written: tuple[Path, ...]  # the table file, when asked (the CSV and images: where the request said)


def evaluate(request: EvaluateRequest) -> Evaluation:
    from ifan_trt.files import check_not_input, check_output_file, write_bytes
    from ifan_trt.runtime.images.pipeline import DEFAULT_MAX_PIXELS, Tiling
    from ifan_trt.runtime.images.tiling import DEFAULT_OVERLAP
    from ifan_trt.training.evaluate import evaluate_folder, format_table

    model, name = request.model, request.names
    model.check(name)
    if request.table:  # before any image is scored
        check_not_input(request.table, [model.checkpoint, model.onnx, model.engine, request.csv], what=name("table"))
        check_output_file(request.table, request.overwrite, create_parent=True, what=name("table"))
    tiling = Tiling(tile=request.tile, max_pixels=request.max_pixels or DEFAULT_MAX_PIXELS,
                    overlap=DEFAULT_OVERLAP if request.overlap is None else request.overlap)
    path = lambda p: None if p is None else str(p)  # noqa: E731
    summary = evaluate_folder(request.data, checkpoint=path(model.checkpoint), onnx=path(model.onnx),
                              engine=path(model.engine), csv_path=request.csv, save_dir=request.save_dir,
                              official_crop=request.crop_official, threads=model.threads, limit=request.limit,
                              backend=model.backend, device=model.device, plugin=path(model.plugin),
                              in_bit=model.in_bit, iac_mode=model.iac_mode, overwrite=request.overwrite,
                              tiling=tiling, batch=request.batch, progress=request.progress)
    table = format_table(summary)
    if request.table:
        write_bytes(request.table, table, request.overwrite)
    return Evaluation(summary, table, (Path(request.table),) if request.table else ())
