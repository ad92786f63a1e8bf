"""The engine's JSON sidecar (`<engine>.json`): the one module that writes, reads and validates
it. `ifan build` writes it beside the engine; the runtime reads the model facts, the optimisation
profiles, the plugin library and the ONNX the engine was built from out of it. Importing this
module needs no TensorRT: `--backend auto` reads the sidecar on machines without a GPU.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from ifan_trt import __version__
from ifan_trt.contract import META, META_PREFIX
from ifan_trt.precisions import ENGINE as PRECISIONS
from ifan_trt.errors import IfanError
from ifan_trt.files import read_input_bytes
from ifan_trt.files import sha256_file as _sha256

from .plan import Profile

SIDECAR_FORMAT = "ifan-trt engine sidecar 1"


def sidecar_path(engine: str | os.PathLike) -> Path:
    return Path(f"{engine}.json")


@dataclass(frozen=True)
class Sidecar:
    """What `ifan build` records beside an engine (`<engine>.json`). profiles: one {input name:
    {"min", "opt", "max"}} per optimisation profile (optimization_profiles.profiles_to_sidecar).
    iac_split: the engine holds the split IAC form (one IFAN_IAC layer per iteration);
    peak_live_bytes: the peaks of live activations the build weighed, {"input_shape",
    "activation_dtype", "one_node", "split"} (bytes, null where not known)."""
    engine: Path
    precision: str
    profiles: list
    inputs: list
    metadata: dict
    tensorrt_version: str
    engine_sha256: str = ""
    gpu: dict | None = None
    onnx_path: Path | None = None
    onnx_sha256: str = ""
    source_onnx: Path | None = None
    plugin_lib: Path | None = None
    plugin_sha256: str | None = None
    builder: dict | None = None
    build_seconds: float = 0.0
    layers: dict | None = None
    iac_split: bool = False
    peak_live_bytes: dict | None = None
    dla: dict | None = None  # {"core", "gpu_fallback", "layers_on_dla", "eligible_layers"} (--dla-core), else None

    def as_dict(self) -> dict:
        """The JSON object written beside the engine (SIDECAR_FORMAT)."""
        return {
            "format": SIDECAR_FORMAT,
            "engine": Path(self.engine).name,
            "engine_sha256": self.engine_sha256,
            "tensorrt_version": str(self.tensorrt_version),
            "gpu": dict(self.gpu or {"name": "unknown", "compute_capability": "unknown"}),
            "precision": self.precision,
            "profiles": self.profiles,
            "inputs": list(self.inputs),
            "onnx": {"path": None if self.onnx_path is None else str(self.onnx_path), "sha256": self.onnx_sha256,
                     "source": None if self.source_onnx is None else str(self.source_onnx)},
            "plugin_library": None if self.plugin_lib is None else {"path": str(self.plugin_lib),
                                                                    "sha256": self.plugin_sha256},
            "builder": dict(self.builder or {"strongly_typed": True}),
            "build_seconds": round(self.build_seconds, 3),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "tool_version": __version__,
            "metadata": {str(k): str(v) for k, v in self.metadata.items()},
            "layer_precisions": self.layers,
            "iac_split": bool(self.iac_split),
            "peak_live_bytes": None if self.peak_live_bytes is None else dict(self.peak_live_bytes),
            "dla": None if self.dla is None else dict(self.dla),
        }


def sidecar_bytes(data: "Sidecar | dict") -> bytes:
    data = data.as_dict() if isinstance(data, Sidecar) else data
    validate(data, "sidecar")
    return (json.dumps(data, indent=1) + "\n").encode()


def _fail(where: str, why: str):
    raise IfanError(f"{where}: {why}; rebuild the engine with `ifan build` (it writes the sidecar)")


def _shape(value, where: str) -> tuple[int, ...]:
    if not isinstance(value, list) or len(value) != 4 or not all(isinstance(d, int) and d > 0 for d in value):
        _fail(where, f"a profile shape must be 4 positive integers, got {value!r}")
    return tuple(value)


def validate(data, where: str) -> dict:
    """The sidecar after checking its format and the type of every field the runtime reads."""
    if not isinstance(data, dict):
        _fail(where, "not a JSON object")
    if data.get("format") != SIDECAR_FORMAT:
        _fail(where, f"format is {data.get('format')!r}, not {SIDECAR_FORMAT!r}")
    if data.get("precision") not in PRECISIONS:
        _fail(where, f"precision {data.get('precision')!r} is not one of {', '.join(PRECISIONS)}")
    if not isinstance(data.get("metadata"), dict) or not all(isinstance(v, str) for v in data["metadata"].values()):
        _fail(where, "metadata must map ifan.* keys to strings")
    if not isinstance(data.get("tensorrt_version"), str):
        _fail(where, "tensorrt_version must be a string")
    profiles = data.get("profiles")
    if not isinstance(profiles, list) or not profiles or not all(isinstance(p, dict) and p for p in profiles):
        _fail(where, "profiles must be a non-empty list of {input: {min, opt, max}}")
    for p in profiles:
        for name, r in p.items():
            if not isinstance(r, dict) or set(r) != {"min", "opt", "max"}:
                _fail(where, f"profile entry of {name!r} must have min, opt and max")
            for key in ("min", "opt", "max"):
                _shape(r[key], where)
    for key in ("onnx", "plugin_library", "builder", "gpu"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            _fail(where, f"{key} must be an object or null")
    for key in ("path", "source"):
        value = (data.get("onnx") or {}).get(key)
        if value is not None and not isinstance(value, str):
            _fail(where, f"onnx.{key} must be a string or null, got {value!r}")
    lib = data.get("plugin_library")
    if lib is not None and not isinstance(lib.get("path"), str):
        _fail(where, f"plugin_library.path must be a string, got {lib.get('path')!r}")
    _validate_iac(data, where)
    _validate_dla(data, where)
    return data


def _validate_dla(data: dict, where: str) -> None:
    """The DLA core an engine was built for (absent or null: GPU only)."""
    dla = data.get("dla")
    if dla is None:
        return
    core = dla.get("core") if isinstance(dla, dict) else None
    if isinstance(core, bool) or not isinstance(core, int) or core < 0:
        _fail(where, f"dla.core must be a DLA core number (0, 1, ...), got {core!r}")
    layers = dla.get("layers_on_dla", [])
    if not isinstance(layers, list) or not all(isinstance(name, str) for name in layers):
        _fail(where, "dla.layers_on_dla must be a list of layer names")


def dla_core(data: dict) -> int | None:
    """The DLA core the engine runs on, or None (GPU only)."""
    return (data.get("dla") or {}).get("core")


def _validate_iac(data: dict, where: str) -> None:
    """The IAC form and the peaks (absent from sidecars written before the build chose the form)."""
    if not isinstance(data.get("iac_split", False), bool):
        _fail(where, f"iac_split must be true or false, got {data['iac_split']!r}")
    peaks = data.get("peak_live_bytes")
    if peaks is None:
        return
    if not isinstance(peaks, dict):
        _fail(where, "peak_live_bytes must be an object or null")
    for form in ("one_node", "split"):
        value = peaks.get(form)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            _fail(where, f"peak_live_bytes.{form} must be a byte count or null, got {value!r}")


def read_sidecar(engine: str | os.PathLike) -> dict:
    """The engine's sidecar, validated (one-line errors naming the file and the fix)."""
    path = sidecar_path(engine)
    if not os.path.lexists(path) or not os.path.exists(path):
        raise IfanError(f"{path}: missing; the engine's sidecar (written by `ifan build` beside "
                        "the engine) carries the model facts; rebuild the engine or copy the .json with it")
    try:
        data = json.loads(read_input_bytes(path))  # a regular file only: a FIFO would block
    except (OSError, ValueError, RecursionError) as exc:
        raise IfanError(f"{path}: not a readable JSON sidecar ({str(exc).splitlines()[0]})") from None
    return validate(data, str(path))


def sidecar_metadata(data: dict) -> dict[str, str]:
    """The model's ONNX metadata recorded in the sidecar; the engine's precision wins."""
    meta = {k: v for k, v in data["metadata"].items() if k.startswith(META_PREFIX)}
    meta[META.precision] = data["precision"]
    return meta


def sidecar_profiles(data: dict) -> list[Profile]:
    """The optimisation profiles as the executor uses them."""
    return [Profile(index, {name: tuple(tuple(r[k]) for k in ("min", "opt", "max")) for name, r in entry.items()})
            for index, entry in enumerate(data["profiles"])]


def recorded_onnx(engine: str | os.PathLike) -> str | None:
    """The ONNX model the engine was built from, as its sidecar records it (the path written at
    build time, or a file of that name beside the engine) and only while its SHA-256 matches the
    record: what --backend auto runs on a machine without a GPU. No other file is guessed."""
    try:
        recorded = read_sidecar(engine).get("onnx") or {}
    except IfanError:
        return None
    if not recorded.get("path"):
        return None
    for candidate in (Path(recorded["path"]), Path(engine).parent / Path(recorded["path"]).name):
        if candidate.is_file() and (not recorded.get("sha256") or _sha256(candidate) == recorded["sha256"]):
            return str(candidate)
    return None


