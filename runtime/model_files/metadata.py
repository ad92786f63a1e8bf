"""Model facts from an exported file: ONNX metadata_props (`ifan.*` keys) or an engine's JSON
sidecar (`<engine>.json`, written by build_engine with the ONNX metadata inside)."""

from __future__ import annotations

import os

from ifan_trt.errors import IfanError

from ..interface.executor import ModelInfo

from ifan_trt.contract import (CHANNEL_ORDERS, IO_KINDS, META, MODES, SIZE_MULTIPLE, META_PREFIX as PREFIX,
                               normalization as normalization_of)


def _bool(text: str) -> bool:
    return str(text).strip().lower() in ("1", "true", "yes")


def info_from_metadata(meta: dict[str, str], where: str = "model") -> ModelInfo:
    """ModelInfo from `ifan.*` metadata (contract.META); keys may be given with or without the prefix."""
    meta = {k if k.startswith(PREFIX) else PREFIX + k: v for k, v in meta.items()}
    if META.variant not in meta:
        raise IfanError(f"{where}: no ifan.variant metadata; export it with `ifan export` "
                        "(the runtime needs the model's variant and normalisation)")
    normalization = str(meta.get(META.normalization, ""))
    in_bit = _int(meta, META.in_bit, 16 if normalization.endswith("65535") else 8, (8, 16), where)
    if in_bit not in (8, 16):
        raise IfanError(f"{where}: malformed ifan.* metadata (in_bit {in_bit}; expected 8 or 16)")
    iac_mode = str(meta.get(META.iac_mode, MODES[0]))
    if iac_mode not in MODES:
        raise IfanError(f"{where}: malformed ifan.* metadata (iac_mode {iac_mode!r})")
    return ModelInfo(
        variant=str(meta[META.variant]),
        n_iters=_int(meta, META.n_iters, 17, (1, 64), where),
        dual=_bool(meta.get(META.dual, "false")),
        in_bit=in_bit,
        iac_mode=iac_mode,
        precision=str(meta.get(META.precision, "fp32")),
        size_multiple=_int(meta, META.size_multiple, SIZE_MULTIPLE, (1, 256), where),
        normalization=normalization or normalization_of(in_bit),
        iac_form=str(meta.get(META.iac_form, "")),
        io=_choice(meta, META.io, IO_KINDS, "float", where),
        channel_order=_choice(meta, META.channel_order, CHANNEL_ORDERS, "rgb", where),
        extra={k[len(PREFIX):]: v for k, v in meta.items()
               if k in (META.tool_version, META.checkpoint_sha256, META.filter_layout)},
    )


def _choice(meta: dict, key: str, choices: tuple[str, ...], default: str, where: str) -> str:
    value = str(meta.get(key) or default)
    if value not in choices:
        raise IfanError(f"{where}: malformed ifan.* metadata ({key[len(PREFIX):]} {value!r}; expected one of {', '.join(choices)})")
    return value


def _int(meta: dict, key: str, default: int, bounds: tuple[int, int], where: str) -> int:
    """An integer field in bounds (metadata values are text); else one-line IfanError."""
    text, name = meta.get(key), key[len(PREFIX):]
    if text in (None, ""):
        return default
    try:
        value = int(str(text))
    except ValueError:
        raise IfanError(f"{where}: malformed ifan.* metadata ({name} {text!r} is not an integer)") from None
    if not bounds[0] <= value <= bounds[1]:
        raise IfanError(f"{where}: malformed ifan.* metadata ({name} {value}; expected {bounds[0]} to {bounds[1]})")
    return value


def info_from_sidecar(engine: str | os.PathLike) -> ModelInfo:
    from .sidecar import read_sidecar, sidecar_metadata, sidecar_path

    return info_from_metadata(sidecar_metadata(read_sidecar(engine)), str(sidecar_path(engine)))

