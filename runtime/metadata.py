"""Model facts from an exported file: ONNX metadata_props (`ifan.*` keys) or an engine's JSON
sidecar (`<engine>.json`, written by build_engine with the ONNX metadata inside)."""

from __future__ import annotations

import os

from ifan_trt.errors import IfanError

from .executor import ModelInfo

from ifan_trt.contract import META_PREFIX as PREFIX
from ifan_trt.contract import SIZE_MULTIPLE


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
            size_multiple=int(meta.get("size_multiple", SIZE_MULTIPLE)),
            normalization=normalization or ("rgb/65535" if in_bit == 16 else "rgb/255"),
            iac_form=meta.get("iac_form", ""),
            extra={k: v for k, v in meta.items() if k in ("tool_version", "checkpoint_sha256", "filter_layout")},
        )
    except ValueError as exc:
        raise IfanError(f"{where}: malformed ifan.* metadata ({exc})") from None


def info_from_sidecar(engine: str | os.PathLike) -> ModelInfo:
    from .tensorrt.sidecar import read_sidecar, sidecar_metadata, sidecar_path

    return info_from_metadata(sidecar_metadata(read_sidecar(engine)), str(sidecar_path(engine)))

