"""Loading official IFAN checkpoints and our own, strictly; saving ours.

Official file: ``torch.save(state_dict)`` of the training wrapper, keys ``Network.<name>``,
possibly behind ``module.``, possibly with ``reblurNet.*`` (training only). The official loader
uses strict=False and leaves unmatched weights random: here any missing or unexpected network
key, or a shape mismatch, is an error that lists them.

Our file: a dict with ``format == "ifan-trt"``, the IFANConfig and the state dict.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass, fields
from pathlib import Path

import torch

from .contract import MODES, filters_per_channel
from .errors import IfanError
from .files import atomic_write, require_regular_file, sha256_file  # noqa: F401  (sha256_file: re-exported)
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


def _read(path: Path) -> object:
    if not path.exists():
        raise IfanError(f"{path}: checkpoint not found")
    require_regular_file(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        # weights_only=True refuses pickled code: a state dict never needs it
        raise IfanError(f"{path}: not a plain PyTorch state dict (corrupt, or it holds pickled code)") from None
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001  torch.load raises many unrelated types for a corrupt file
        raise IfanError(f"{path}: not a readable PyTorch checkpoint (corrupt or truncated)") from None


# the range a config may take (official: ch 32, N 17, ks 3, k 3, 2 residual units); wider is refused
# before a network is built, so a crafted file cannot make it allocate gigabytes
_LIMITS = {"n_iters": (1, 64), "ch": (1, 128), "ks": (1, 7), "res_num": (1, 8), "filter_size": (1, 7)}


def validate_config(recorded: object, path: Path) -> dict:
    """Our format's config, every field type- and range-checked (unknown fields are ignored)."""
    if not isinstance(recorded, dict):
        raise IfanError(f"{path}: malformed checkpoint (config is a {type(recorded).__name__}, not a mapping)")
    known = {f.name for f in fields(IFANConfig)}
    config = {k: v for k, v in recorded.items() if k in known}
    for key, (low, high) in _LIMITS.items():
        value = config.get(key)
        if key in config and (not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high):
            raise IfanError(f"{path}: malformed checkpoint (config {key}={value!r}; expected an integer "
                            f"from {low} to {high})")
    if "dual" in config and not isinstance(config["dual"], bool):
        raise IfanError(f"{path}: malformed checkpoint (config dual={config['dual']!r}; expected true or false)")
    if "in_bit" in config and config["in_bit"] not in (8, 16) or isinstance(config.get("in_bit"), bool):
        raise IfanError(f"{path}: malformed checkpoint (config in_bit={config['in_bit']!r}; expected 8 or 16)")
    if "iac_mode" in config and config["iac_mode"] not in MODES:
        raise IfanError(f"{path}: malformed checkpoint (config iac_mode={config['iac_mode']!r}; expected one of "
                        f"{', '.join(MODES)})")
    for key in ("ks", "filter_size"):
        if key in config and config[key] % 2 == 0:
            raise IfanError(f"{path}: malformed checkpoint (config {key}={config[key]}; kernel sizes are odd)")
    return config


def network_state_dict(raw: dict) -> dict[str, torch.Tensor]:
    """Strip wrapper prefixes, drop training-only networks; keep only tensors of the network."""
    state = {}
    for key, value in raw.items():
        if not isinstance(key, str):
            raise IfanError(f"malformed state dict (key {key!r} is not a name)")
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
        if any(state[k].dim() != 4 for k in ("conv1_1.0.weight", "kconv1_1.0.weight", "F.3.weight")):
            raise IndexError
        ch = state["conv1_1.0.weight"].shape[0]
        kin = state["kconv1_1.0.weight"].shape[1]
        n_out = state["F.3.weight"].shape[0]
        ks = state["conv1_1.0.weight"].shape[-1]
    except KeyError as exc:
        raise IfanError(f"{where}not an IFAN checkpoint (no {exc.args[0]!r} weight)") from None
    except IndexError:
        raise IfanError(f"{where}not an IFAN checkpoint (a convolution weight is not 4-D)") from None
    if not 1 <= ch <= _LIMITS["ch"][1] or not 1 <= ks <= _LIMITS["ks"][1] or ks % 2 == 0 or n_out < 1:
        raise IfanError(f"{where}not an IFAN checkpoint (conv1_1 has {ch} channels of {ks}x{ks}, the filter "
                        f"predictor {n_out} outputs)")
    if kin not in (3, 6):
        raise IfanError(f"{where}kconv1_1 takes {kin} input channels; IFAN takes 3, IFAN_dual 6")
    c4, k = 4 * ch, 3
    per_iter = c4 * filters_per_channel(1, k, "full")  # one iteration's channels of F
    if n_out % per_iter:
        raise IfanError(f"{where}the filter predictor has {n_out} outputs, not a multiple of "
                        f"{per_iter} (= {c4} channels x (2k+1), k=3)")
    if n_out // per_iter > _LIMITS["n_iters"][1]:
        raise IfanError(f"{where}the filter predictor implies {n_out // per_iter} IAC iterations; at most "
                        f"{_LIMITS['n_iters'][1]} are supported")
    return IFANConfig(n_iters=n_out // per_iter, dual=kin == 6, in_bit=in_bit, iac_mode=iac_mode,
                      ch=ch, ks=ks, filter_size=k)


MAX_PARAMETERS = 200_000_000  # the official IFAN has ~10 M; more is a crafted or broken config


def build_strict(config: IFANConfig, state: dict[str, torch.Tensor], path: Path) -> IFAN:
    with torch.device("meta"):  # counted without allocating: a crafted config cannot take gigabytes
        size = sum(p.numel() for p in IFAN(config).parameters())
    if size > MAX_PARAMETERS:
        raise IfanError(f"{path}: {config.variant} would have {size / 1e6:.0f} M parameters; at most "
                        f"{MAX_PARAMETERS // 1_000_000} M are supported (malformed config?)")
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
    try:
        if raw.get("format") == FORMAT:
            config, state, meta = _ours(raw, path, in_bit, iac_mode)
            source = FORMAT
        else:
            state = network_state_dict(raw)
            config = infer_config(state, in_bit or 8, iac_mode or "official", path)
            source, meta = "official", {}
    except IfanError as exc:
        text = str(exc)
        raise IfanError(text if text.startswith(str(path)) else f"{path}: {text}") from None
    model = build_strict(config, state, path)
    return LoadedModel(model, config, path, sha256_file(path), source, meta)


def _ours(raw: dict, path: Path, in_bit: int | None, iac_mode: str | None):
    version = raw.get("format_version", 0)
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise IfanError(f"{path}: malformed checkpoint (format_version {version!r})")
    if version > FORMAT_VERSION:
        raise IfanError(f"{path}: written by a newer ifan-trt (format {version})")
    recorded = validate_config(raw.get("config", {}), path)
    if in_bit is not None:
        recorded["in_bit"] = in_bit
    if iac_mode is not None:
        recorded["iac_mode"] = iac_mode
    if not isinstance(raw.get("state_dict"), dict):
        raise IfanError(f"{path}: malformed checkpoint (state_dict is "
                        f"{'missing' if 'state_dict' not in raw else 'a ' + type(raw['state_dict']).__name__})")
    meta = raw.get("meta", {})
    if not isinstance(meta, dict):
        raise IfanError(f"{path}: malformed checkpoint (meta is a {type(meta).__name__}, not a mapping)")
    try:
        config = IFANConfig(**recorded)
    except ValueError as exc:
        raise IfanError(f"{path}: malformed checkpoint ({exc})") from None
    return config, network_state_dict(raw["state_dict"]), dict(meta)


def save_checkpoint(model: IFAN, path: str | os.PathLike, meta: dict | None = None, overwrite: bool = False) -> None:
    """Write our format atomically: config + state dict + free-form meta (training record)."""
    path = Path(path)
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": model.config.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "meta": meta or {},
    }
    with atomic_write(path, overwrite) as fh:
        torch.save(payload, fh)
