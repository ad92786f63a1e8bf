"""The one table of precisions: every name a user can ask for, the file suffix of its graph, what
runs it (TensorRT, or ONNX Runtime's CPU provider), whether it needs calibration images, and
whether a TensorRT engine can be built from it. Parsers, file names, the benchmark and the docs
all read this table; no other module spells a precision list."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import IfanError


@dataclass(frozen=True)
class Precision:
    name: str  # what users type: --precision NAME, Model.precision(NAME)
    suffix: str  # the prepared graph is STEM.SUFFIX.onnx
    target: str  # "tensorrt" (symmetric Q/DQ, what `ifan build` takes) or "cpu" (ONNX Runtime's CPU INT8)
    needs_images: bool  # INT8 scales are calibrated on images
    buildable: bool  # an engine can be built from a graph of this precision
    label: str  # how reports and tables name it


TABLE = (
    Precision("fp32", "fp32", "tensorrt", False, True, "FP32"),
    Precision("fp16", "fp16", "tensorrt", False, True, "FP16"),
    Precision("int8", "int8", "tensorrt", True, True, "INT8"),
    Precision("int8-fp16", "int8-fp16", "tensorrt", True, True, "INT8 + FP16"),
    Precision("int8-cpu", "int8-cpu", "cpu", True, False, "INT8 (CPU)"),
)
BY_NAME = {p.name: p for p in TABLE}
NAMES = tuple(p.name for p in TABLE)
ENGINE = tuple(p.name for p in TABLE if p.buildable)  # graph and engine precisions TensorRT builds
PREPARED = tuple(p.name for p in TABLE if p.name != "fp32")  # made from the FP32 export
HALF = ("fp16", "int8-fp16")  # FP16 activations outside any Q/DQ


def get(name: str, parameter: str = "precision", allowed: tuple[str, ...] = NAMES) -> Precision:
    """The table row of name; an IfanError naming the parameter (a Python parameter or a flag) and
    the choices otherwise."""
    if name not in allowed:
        raise IfanError(f"{parameter} {name!r}: expected one of {', '.join(allowed)}")
    return BY_NAME[name]


def graph_file(source: str | Path, precision: str, folder: str | Path | None = None, split: bool = False) -> Path:
    """Where the graph of a precision made from source goes: STEM[.iac-split].SUFFIX.onnx, beside
    source or in folder."""
    source = Path(source)
    stem = source.name.split(".")[0] if source.suffix.lower() == ".onnx" else source.stem
    name = f"{stem}{'.iac-split' if split else ''}.{BY_NAME[precision].suffix}.onnx"
    return (Path(folder) if folder is not None else source.parent) / name
