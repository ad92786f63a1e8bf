"""The bundled default model: IFAN (ch=16, N=8, official IAC mode) trained by us on synthetic
defocus (ifan_trt.training.synthetic, `ifan train`); its training record is the checkpoint's meta.

It ships three ways: the checkpoint (PyTorch), its FP32 ONNX export and the INT8 graph for ONNX
Runtime's CPU provider (both made from the checkpoint with `ifan export` and `ifan precision
--to int8-cpu`, see docs/training.md), so that a torch-free install runs it too."""

from __future__ import annotations

from pathlib import Path

from ..errors import IfanError

CHECKPOINT_FILE = "default.pth"
ONNX_FILES = {"fp32": "default.onnx", "int8-cpu": "default.int8-cpu.onnx"}  # by precision (ifan_trt.precisions)


def default_checkpoint_path() -> Path:
    """Path of the bundled default checkpoint (shipped as package data)."""
    path = Path(__file__).with_name(CHECKPOINT_FILE)
    if not path.is_file():
        raise IfanError(f"{path}: the bundled default model is missing from this install; "
                        "reinstall ifan-trt or pass --checkpoint FILE")
    return path


def default_onnx_path(precision: str = "fp32", required: bool = True) -> Path | None:
    """Path of the bundled ONNX export of the default model ("fp32" or "int8-cpu")."""
    path = Path(__file__).with_name(ONNX_FILES[precision])
    if path.is_file():
        return path
    if required:
        raise IfanError(f"{path}: the bundled ONNX model is missing from this install; "
                        "reinstall ifan-trt or pass --onnx FILE")
    return None
