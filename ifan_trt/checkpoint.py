"""Loading official IFAN checkpoints and our own, strictly; saving ours.

Official file: ``torch.save(state_dict)`` of the training wrapper, keys ``Network.<name>``,
possibly behind ``module.``, possibly with ``reblurNet.*`` (training only). The official loader
uses strict=False and leaves unmatched weights random: here any missing or unexpected network
key, or a shape mismatch, is an error that lists them.

Our file: a dict with ``format == "ifan-trt"``, the IFANConfig and the state dict.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import zipfile
from dataclasses import dataclass, fields
from pathlib import Path

import torch

from .contract import filters_per_channel
from .errors import IfanError
from .model import IFAN, IFANConfig

FORMAT = "ifan-trt"
FORMAT_VERSION = 1
_IGNORED_PREFIXES = ("reblurNet.",)
_STRIPPED_PREFIXES = ("module.", "Network.")


@dataclass
class LoadedModel:
    model: IFAN
    config: IFANConfig
    path: Path
    sha256: str
    source: str  # "official" or "ifan-trt"
    meta: dict


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read(path: Path) -> object:
    if not path.is_file():
        raise IfanError(f"{path}: checkpoint not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        # weights_only=True refuses pickled code: a state dict never needs it
        raise IfanError(f"{path}: not a plain PyTorch state dict (corrupt, or it holds pickled code)") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError):
        raise IfanError(f"{path}: not a readable PyTorch checkpoint (corrupt or truncated)") from None


def network_state_dict(raw: dict) -> dict[str, torch.Tensor]:
    """Strip wrapper prefixes, drop training-only networks; keep only tensors of the network."""
    state = {}
    for key, value in raw.items():
        name = key
        stripped = True
        while stripped:
            stripped = False
            for prefix in _STRIPPED_PREFIXES:
                if name.startswith(prefix):
                    name, stripped = name[len(prefix):], True
        if name.startswith(_IGNORED_PREFIXES) or not isinstance(value, torch.Tensor):
            continue
        state[name] = value
    return state


def infer_config(state: dict[str, torch.Tensor], in_bit: int = 8, iac_mode: str = "official",
                 path: Path | None = None) -> IFANConfig:
    """N from the filter predictor's last conv, dual from kconv1_1, width from conv1_1."""
    where = f"{path}: " if path else ""
    try:
        ch = state["conv1_1.0.weight"].shape[0]
        kin = state["kconv1_1.0.weight"].shape[1]
        n_out = state["F.3.weight"].shape[0]
        ks = state["conv1_1.0.weight"].shape[-1]
    except KeyError as exc:
        raise IfanError(f"{where}not an IFAN checkpoint (no {exc.args[0]!r} weight)") from None
    if kin not in (3, 6):
        raise IfanError(f"{where}kconv1_1 takes {kin} input channels; IFAN takes 3, IFAN_dual 6")
    c4, k = 4 * ch, 3
    per_iter = c4 * filters_per_channel(1, k, "full")  # one iteration's channels of F
    if n_out % per_iter:
        raise IfanError(f"{where}the filter predictor has {n_out} outputs, not a multiple of "
                        f"{per_iter} (= {c4} channels x (2k+1), k=3)")
    return IFANConfig(n_iters=n_out // per_iter, dual=kin == 6, in_bit=in_bit, iac_mode=iac_mode,
                      ch=ch, ks=ks, filter_size=k)


def build_strict(config: IFANConfig, state: dict[str, torch.Tensor], path: Path) -> IFAN:
    model = IFAN(config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mismatched = sorted(f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}"
                        for k, v in expected.items() if k in state and state[k].shape != v.shape)
    problems = []
    for label, items in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", mismatched)):
        if items:
            shown = ", ".join(items[:8]) + (f" (+{len(items) - 8} more)" if len(items) > 8 else "")
            problems.append(f"{label} {len(items)}: {shown}")
    if problems:
        raise IfanError(f"{path}: does not match {config.variant}: " + "; ".join(problems))
    model.load_state_dict(state, strict=True)
    return model.eval()


def load_checkpoint(path: str | os.PathLike, in_bit: int | None = None,
                    iac_mode: str | None = None) -> LoadedModel:
    """Load an official or ifan-trt checkpoint; in_bit / iac_mode override what it records.

    Official files record neither: IFAN_16bit has the same shapes as IFAN, so pass in_bit=16
    for it; released checkpoints all need the official IAC mode (the default).
    """
    path = Path(path)
    raw = _read(path)
    if not isinstance(raw, dict):
        raise IfanError(f"{path}: not an IFAN checkpoint (holds a {type(raw).__name__}, not a state dict)")
    if raw.get("format") == FORMAT:
        if raw.get("format_version", 0) > FORMAT_VERSION:
            raise IfanError(f"{path}: written by a newer ifan-trt (format {raw['format_version']})")
        known = {f.name for f in fields(IFANConfig)}
        recorded = {k: v for k, v in dict(raw.get("config", {})).items() if k in known}
        if in_bit is not None:
            recorded["in_bit"] = in_bit
        if iac_mode is not None:
            recorded["iac_mode"] = iac_mode
        config = IFANConfig(**recorded)
        state, source, meta = network_state_dict(raw["state_dict"]), FORMAT, dict(raw.get("meta", {}))
    else:
        state = network_state_dict(raw)
        config = infer_config(state, in_bit or 8, iac_mode or "official", path)
        source, meta = "official", {}
    model = build_strict(config, state, path)
    return LoadedModel(model, config, path, sha256_file(path), source, meta)


def save_checkpoint(model: IFAN, path: str | os.PathLike, meta: dict | None = None) -> None:
    """Write our format atomically: config + state dict + free-form meta (training record)."""
    path = Path(path)
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": model.config.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "meta": meta or {},
    }
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
