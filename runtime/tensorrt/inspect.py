"""What precision each layer of a built engine got, from IEngineInspector's JSON (no TensorRT
needed to parse it, so it is tested on the CPU).

With ProfilingVerbosity.DETAILED, ``get_engine_information(LayerInformationFormat.JSON)`` gives
``{"Layers": [{"Name", "LayerType", "Inputs": [...], "Outputs": [...]}, ...]}``; each tensor
entry carries its type as "Format/Datatype" (TensorRT 10, e.g. "Row major linear FP16 format")
or as separate data type and "Format" keys (TensorRT 11; the keys are matched whatever their case,
since 11's migration guide spells the first "DataType"). A layer's precision is the
narrowest type among its inputs (what its kernel reads): INT8/FP8 < FP16/BF16 < FP32.

A version-compatible plan that embeds the plugin library registers IFAN_IAC when it is
deserialised; TensorRT refuses that in a process that already loaded the library (the build
does), so such a plan is inspected in a fresh Python (``python -m ifan_trt.runtime.tensorrt.inspect``,
plan on stdin, the inspector's JSON on stdout).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass

from ifan_trt.errors import IfanError

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
    keys = {str(k).lower(): v for k, v in entry.items()}  # TensorRT 11 spells it "DataType", 10 "Datatype"
    text = keys.get("format/datatype") or " ".join(str(keys.get(k, "")) for k in ("datatype", "format"))
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


def engine_information(trt, plan: bytes, host_code: bool) -> str:
    """IEngineInspector's JSON for a plan, deserialised in this process."""
    runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
    if host_code:
        runtime.engine_host_code_allowed = True  # a version-compatible plan embeds the lean runtime (and plugin)
    engine = runtime.deserialize_cuda_engine(plan)
    if engine is None:
        raise IfanError("the engine just built does not deserialise (see TensorRT's log above)")
    return engine.create_engine_inspector().get_engine_information(trt.LayerInformationFormat.JSON)


def engine_information_in_child(plan: bytes, timeout: float = 900) -> str:
    """The same in a fresh Python, where nothing has registered the plugin yet."""
    try:
        r = subprocess.run([sys.executable, "-m", "ifan_trt.runtime.tensorrt.inspect"], input=plan,
                           capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise IfanError(f"inspecting the engine just built: the child process gave no answer in {timeout:.0f} s"
                        ) from None
    if r.returncode != 0:  # the last line the child wrote: TensorRT's reason, or Python's
        lines = r.stderr.decode(errors="replace").strip().splitlines() or [f"exit status {r.returncode}"]
        raise IfanError(f"the engine just built does not deserialise in a fresh process: {lines[-1]}")
    return r.stdout.decode()


def _child_main() -> int:
    import tensorrt as trt

    try:
        sys.stdout.write(engine_information(trt, sys.stdin.buffer.read(), host_code=True))
    except IfanError:
        return 1  # TensorRT has logged why on stderr
    return 0


if __name__ == "__main__":
    sys.exit(_child_main())
