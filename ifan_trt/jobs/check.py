"""Check a model against a reference: one job, two references. A checkpoint: the ONNX graph is
checked (onnx.checker, strict shape inference) and ONNX Runtime's output compared with PyTorch's
(export/verify.py). An FP32 ONNX graph: both graphs run in ONNX Runtime on a folder of images and
the model's output is scored against the reference's, PSNR per image (calib/audit.py). The kind of
the reference (ifan_trt.models: `default` is the bundled FP32 export) decides which."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ifan_trt.progress import Bars
from ifan_trt.errors import IfanError
from ifan_trt.models import ModelRef, kind_of

DEFAULT_MIN_PSNR = 45.0  # dB: a precision graph below it on any image fails


@dataclass(frozen=True)
class CheckRequest:
    """model: an ONNX graph or `default` (the bundled export); against: a checkpoint (the export
    check), an FP32 ONNX graph or `default` (the precision check), or None (the bundled checkpoint
    when the graph was exported from it, else only the checks and a run). images, limit, plot and
    min_psnr are the precision check's; batch and tolerance the export check's; size is the image
    size either runs at (None: the graph's fixed size, else 120x200 for the export check and each
    image cropped to a multiple of 8 for the precision check)."""
    model: str | os.PathLike
    against: object = None  # a path, `default`, None, or a checkpoint already loaded (ifan_trt.checkpoint)
    size: tuple[int, int] | None = None
    batch: int | None = None
    tolerance: float | None = None
    images: str | os.PathLike | None = None
    limit: int | None = None
    min_psnr: float | None = None
    progress: Bars | None = field(default=None, compare=False)  # bars (ifan_trt.progress); None: none


@dataclass(frozen=True)
class CheckResult:
    kind: str  # "export" (against a checkpoint) or "precision" (against an FP32 graph)
    model: Path
    against: object  # the reference's path, a loaded checkpoint, or None
    report: object  # export.verify.VerifyReport or calib.audit.AuditResult
    passed: bool

    def lines(self) -> list[str]:
        if self.kind == "export":
            return self.report.lines()
        from ifan_trt.calib.audit import HEADER
        from ifan_trt.table import format_table

        r = self.report
        verdict = "PASS" if r.passed else "FAIL"
        return [format_table(HEADER, r.table_rows()),
                f"{verdict}: worst PSNR {r.worst_psnr:.2f} dB, mean {r.mean.psnr:.2f} dB (threshold "
                f"{r.min_psnr:g} dB, {len(r.scores)} image(s), size {r.size})"]

    def to_dict(self) -> dict:
        if self.kind == "precision":
            return {"check": "precision", **self.report.to_dict()}
        r = self.report
        against = self.against if self.against is None or isinstance(self.against, Path) else \
            getattr(self.against, "path", None)
        return {"check": "export", "onnx": str(r.path), "against": None if against is None else str(against),
                "metadata": r.metadata, "shape": list(r.shape), "checks": r.checks,
                "max_abs_error": r.max_abs_error, "psnr_db": r.psnr_db, "tolerance": r.tolerance,
                "passed": r.passed}


def check_kind(against) -> str:
    """"export" for a checkpoint reference (or none, or a model already loaded), "precision" for an
    ONNX one."""
    if against is None or not isinstance(against, (str, os.PathLike)):
        return "export"
    kind = kind_of(against)
    if kind not in ("checkpoint", "onnx"):
        raise IfanError(f"against {against}: expected a checkpoint (.pth) or an FP32 ONNX graph (.onnx, 'default')")
    return "export" if kind == "checkpoint" else "precision"


def check(request: CheckRequest) -> CheckResult:
    kind = check_kind(request.against)
    model = ModelRef.parse(request.model, "onnx", "model").path
    if kind == "export":
        misplaced = [name for name, value in (("images", request.images), ("limit", request.limit),
                                              ("min_psnr", request.min_psnr)) if value is not None]
        if misplaced:
            raise IfanError(f"{', '.join(misplaced)}: for a check against an FP32 graph, not a checkpoint")
        from ifan_trt.export.verify import verify_onnx

        against = request.against
        if against is None:
            against = _bundled_if_source(model)
        elif isinstance(against, (str, os.PathLike)):
            against = Path(ModelRef.parse(against, "checkpoint", "against").path)
        report = verify_onnx(model, against, shape=request.size, batch=request.batch or 1,
                             tolerance=request.tolerance)
        return CheckResult(kind, model, against, report, report.passed)
    misplaced = [name for name, value in (("batch", request.batch), ("tolerance", request.tolerance))
                 if value is not None]
    if misplaced:
        raise IfanError(f"{', '.join(misplaced)}: for a check against a checkpoint, not an FP32 graph")
    from ifan_trt.calib import images
    from ifan_trt.calib.audit import audit

    against = ModelRef.parse(request.against, "onnx", "against").path
    paths = images.find_images(request.images, request.limit)
    min_psnr = DEFAULT_MIN_PSNR if request.min_psnr is None else request.min_psnr
    report = audit(against, model, paths, request.size, min_psnr, progress=request.progress)
    return CheckResult(kind, model, Path(against), report, report.passed)


def _bundled_if_source(path) -> Path | None:
    """The bundled checkpoint when the graph's recorded SHA-256 is its, else None."""
    from ifan_trt.contract import META
    from ifan_trt.export.graph import read_metadata

    try:
        from ifan_trt.files import sha256_file
        from ifan_trt.weights import default_checkpoint_path

        bundled = default_checkpoint_path()
    except (ImportError, IfanError):  # no torch or no bundled model in this install
        return None
    try:
        recorded = read_metadata(path).get(META.checkpoint_sha256)
    except Exception:  # missing or unreadable file: verify_onnx reports it with its reason
        return None
    return Path(bundled) if recorded == sha256_file(bundled) else None
