"""What precision each layer of a built engine got, from IEngineInspector's JSON (no TensorRT
needed to parse it, so it is tested on the CPU).

With ProfilingVerbosity.DETAILED, ``get_engine_information(LayerInformationFormat.JSON)`` gives
``{"Layers": [{"Name", "LayerType", "Inputs": [...], "Outputs": [...]}, ...]}``; each tensor
entry carries its type as "Format/Datatype" (TensorRT 10, e.g. "Row major linear FP16 format")
or as separate "Datatype" and "Format" keys (TensorRT 11). A layer's precision is the
narrowest type among its inputs (what its kernel reads): INT8/FP8 < FP16/BF16 < FP32.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

_ORDER = ("INT8", "FP8", "INT4", "FP16", "BF16", "FP32")
_ALIASES = {"HALF": "FP16", "FLOAT": "FP32", "INT32": "INT32", "BOOL": "BOOL", "INT64": "INT64"}
# layers that only move or convert data, not worth a warning when FP32
_PLUMBING = ("Reformat", "Shuffle", "Shape", "Constant", "Cast", "Slice", "Concatenation", "NoOp", "Identity")


@dataclass
class LayerPrecision:
    name: str
    layer_type: str
    precision: str  # INT8, FP16, FP32, ... or "n/a" when no float data
    inputs: list[str]
    outputs: list[str]


def _dtype(entry: dict) -> str:
    text = entry.get("Format/Datatype") or " ".join(str(entry.get(k, "")) for k in ("Datatype", "Format"))
    up = str(text).upper()
    for name in _ORDER:
        if name in up:
            return name
    for alias, name in _ALIASES.items():
        if alias in up:
            return name
    return "n/a"


def layer_precisions(info: str | dict) -> list[LayerPrecision]:
    data = json.loads(info) if isinstance(info, str) else info
    layers = []
    for layer in data.get("Layers", []):
        if isinstance(layer, str):  # verbosity below DETAILED: names only
            layers.append(LayerPrecision(layer, "unknown", "unknown", [], []))
            continue
        ins = [_dtype(e) for e in layer.get("Inputs", []) if isinstance(e, dict)]
        outs = [_dtype(e) for e in layer.get("Outputs", []) if isinstance(e, dict)]
        floats = [t for t in ins if t in _ORDER] or [t for t in outs if t in _ORDER]
        precision = min(floats, key=_ORDER.index) if floats else "n/a"
        layers.append(LayerPrecision(str(layer.get("Name", "?")), str(layer.get("LayerType", "?")),
                                     precision, ins, outs))
    return layers


def summary(layers: list[LayerPrecision]) -> dict[str, int]:
    return dict(Counter(layer.precision for layer in layers))


def unexpected_fp32(layers: list[LayerPrecision], precision: str) -> list[LayerPrecision]:
    """Compute layers that ran FP32 although the build asked for FP16/INT8."""
    if precision == "fp32":
        return []
    return [layer for layer in layers if layer.precision == "FP32"
            and not any(p.lower() in layer.layer_type.lower() or layer.name.startswith(p) for p in _PLUMBING)]
