"""Export a checkpoint to ONNX (`ifan export`): the checkpoint loaded strictly, exported with the IAC
as one plugin node or standard ops, and the facts of the file made."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ifan_trt.files import check_not_input, check_output_file
from ifan_trt.models import bundled, is_default


@dataclass(frozen=True)
class ExportRequest:
    """checkpoint: a .pth or `default`; iac: "plugin" or "onnx"; shape: a static (H, W) (None:
    dynamic); batch: a static batch (None: dynamic); opset: None for the default."""
    checkpoint: str | os.PathLike
    output: str | os.PathLike
    iac: str = "plugin"
    shape: tuple[int, int] | None = None
    batch: int | None = None
    opset: int | None = None
    iac_split: bool = False
    prune: bool = True
    in_bit: int | None = None
    iac_mode: str | None = None
    overwrite: bool = False
    io: str = "float"  # "uint8": frames in and out, conversions inside the graph (export/uint8_io.py)
    channel_order: str = "bgr"  # with io="uint8": the frames' channel order, "bgr" (OpenCV's) or "rgb"


@dataclass(frozen=True)
class ExportDone:
    path: Path
    result: object  # export.onnx_export.ExportResult: config, IAC form, filter bytes, seconds
    loaded: object  # the checkpoint.LoadedModel exported (a comparison with PyTorch reuses it)
    request: ExportRequest | None = None

    def lines(self) -> list[str]:
        """What the export made, in three lines: the file (variant, IAC, input, opset, time), the
        filter tensor F at 720x1280 before and after pruning, the peak of live activations."""
        r, q = self.result, self.request or ExportRequest("default", self.path)
        cfg, shape, batch = r.config, q.shape, q.batch
        hw = list(map(str, shape)) if shape else ["H", "W"]
        dims = "x".join([str(batch or "B"), "3", *hw])
        if q.io == "uint8":
            dims = "x".join([str(batch or "B"), *hw, "3"]) + f" uint8 {q.channel_order.upper()}"
        form = r.iac_form + (", one node per iteration" if r.iac_split else "")
        full, ours = r.filter_bytes_full, r.filter_bytes_exported
        note = f"-{100 * (full - ours) / full:.1f}%, pruned losslessly" if ours < full else "not pruned"
        return [f"{r.path}: {cfg.variant} (N={cfg.n_iters}, {cfg.iac_mode} IAC as {form}, {r.filter_layout} filter "
                f"layout), input {dims}, opset {r.opset}, exported in {r.seconds:.1f} s",
                f"filter tensor F at 720x1280 (FP32, batch 1): {full / 1e6:.1f} MB full -> {ours / 1e6:.1f} MB ({note})"
                + ("; never written (split IAC)" if r.iac_split else ""),
                peak_line(r.path, shape, batch or 1)]


def peak_line(path, shape, batch: int) -> str:
    """The export's liveness line: at its static shape, else at 720x1280; as exported (FP32) and
    as the FP16 engine will hold it."""
    from ifan_trt.export.graph import load_model
    from ifan_trt.export.liveness import format_peak, peak_report

    model = load_model(path)
    shape = shape or (720, 1280)
    return format_peak(peak_report(model, shape, batch), peak_report(model, shape, batch, "float16"))


def export(request: ExportRequest) -> ExportDone:
    from ifan_trt.checkpoint import load_checkpoint
    from ifan_trt.contract import DEFAULT_OPSET
    from ifan_trt.export.onnx_export import export_onnx

    # the loader names a missing or unreadable checkpoint itself
    checkpoint = bundled("checkpoint") if is_default(request.checkpoint) else Path(request.checkpoint)
    output = Path(request.output)
    check_not_input(output, [checkpoint])
    check_output_file(output, request.overwrite, create_parent=True)
    loaded = load_checkpoint(str(checkpoint), in_bit=request.in_bit, iac_mode=request.iac_mode)
    result = export_onnx(loaded, output, iac_form=request.iac, shape=request.shape, prune=request.prune,
                         opset=request.opset or DEFAULT_OPSET, batch=request.batch, iac_split=request.iac_split,
                         overwrite=request.overwrite, io=request.io, channel_order=request.channel_order)
    return ExportDone(result.path, result, loaded, request)
