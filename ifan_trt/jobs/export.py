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
    return ExportDone(result.path, result, loaded)
