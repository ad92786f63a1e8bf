"""Model facts from an exported file: ONNX metadata_props (`ifan.*` keys) or an engine's JSON
sidecar (`<engine>.json`, written by build_engine with the ONNX metadata inside)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ifan_trt.errors import IfanError

from .executor import ModelInfo
from ifan_trt.contract import META

PREFIX = "ifan."


def _bool(text: str) -> bool:
    return str(text).strip().lower() in ("1", "true", "yes")


def info_from_metadata(meta: dict[str, str], where: str = "model") -> ModelInfo:
    """ModelInfo from `ifan.*` metadata; keys may be given with or without the prefix."""
    meta = {k[len(PREFIX):] if k.startswith(PREFIX) else k: v for k, v in meta.items()}
    if "variant" not in meta:
        raise IfanError(f"{where}: no ifan.variant metadata; export it with `ifan export` "
                        "(the runtime needs the model's variant and normalisation)")
    try:
        normalization = meta.get("normalization", "")
        in_bit = int(meta.get("in_bit") or (16 if normalization.endswith("65535") else 8))
        return ModelInfo(
            variant=meta["variant"],
            n_iters=int(meta.get("n_iters", 17)),
            dual=_bool(meta.get("dual", "false")),
            in_bit=in_bit,
            iac_mode=meta.get("iac_mode", "official"),
            precision=meta.get("precision", "fp32"),
            size_multiple=int(meta.get("size_multiple", 8)),
            normalization=normalization or ("rgb/65535" if in_bit == 16 else "rgb/255"),
            iac_form=meta.get("iac_form", ""),
            extra={k: v for k, v in meta.items() if k in ("tool_version", "checkpoint_sha256", "filter_layout")},
        )
    except ValueError as exc:
        raise IfanError(f"{where}: malformed ifan.* metadata ({exc})") from None


def sidecar_path(engine: str | os.PathLike) -> Path:
    return Path(f"{engine}.json")


def read_sidecar(engine: str | os.PathLike) -> dict:
    """The engine's sidecar as a dict (raises with the fix when it is missing or unreadable)."""
    path = sidecar_path(engine)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise IfanError(f"{path}: missing; the engine's sidecar (written by `ifan build` beside "
                        "the engine) carries the model facts; rebuild the engine or copy the .json with it") from None
    except (OSError, ValueError) as exc:
        raise IfanError(f"{path}: not a readable JSON sidecar ({exc})") from None
    if not isinstance(data, dict):
        raise IfanError(f"{path}: not a JSON object")
    return data


def sidecar_metadata(data: dict) -> dict[str, str]:
    """The ONNX metadata stored in a sidecar (under "metadata" or "onnx_metadata", or flat)."""
    for key in ("metadata", "onnx_metadata", "onnx"):
        if isinstance(data.get(key), dict):
            meta = data[key]
            break
    else:
        meta = {k: v for k, v in data.items() if k.startswith(PREFIX)}
    meta = {str(k): str(v) for k, v in meta.items()}
    if data.get("precision"):  # the engine's precision wins over the ONNX file's
        meta[META.precision] = str(data["precision"])
    return meta


def info_from_sidecar(engine: str | os.PathLike) -> ModelInfo:
    return info_from_metadata(sidecar_metadata(read_sidecar(engine)), str(sidecar_path(engine)))

