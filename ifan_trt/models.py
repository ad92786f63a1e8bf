"""The one model reference: what a user may name as a model (`default`, the bundled model, or a
path), the kind of file a suffix means, and which file `default` is for each kind. This is the only
module that compares a value with the word `default`; every parser, command and the Python API
ask it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import IfanError

DEFAULT = "default"  # what users type for the bundled model, wherever a model is named
KINDS = ("checkpoint", "onnx", "engine")
SUFFIX_KINDS = {".onnx": "onnx", ".engine": "engine", ".plan": "engine", ".trt": "engine",
                ".pth": "checkpoint", ".pt": "checkpoint", ".pytorch": "checkpoint", ".ckpt": "checkpoint"}


def is_default(value) -> bool:
    """True for the bundled model's name (None is not a name: callers decide what "no model" means)."""
    return value is not None and str(value) == DEFAULT


def kind_of(value, fallback: str | None = None) -> str | None:
    """The kind of model a name or path means: `default` is the bundled ONNX export, else the suffix
    decides (fallback where no suffix matches)."""
    if is_default(value):
        return "onnx"
    return SUFFIX_KINDS.get(Path(str(value)).suffix.lower(), fallback)


def bundled(kind: str, parameter: str | None = None, required: bool = True) -> Path | None:
    """The bundled model's file of one kind (the checkpoint, or the FP32 ONNX export); an engine is
    never bundled (it is built for its GPU)."""
    from . import weights

    if kind == "checkpoint":
        return weights.default_checkpoint_path()
    if kind == "onnx":
        return weights.default_onnx_path("fp32", required=required)
    raise IfanError(f"{parameter or kind} default: no engine is bundled (an engine is built for its GPU); "
                    "build one with `ifan build --onnx default -o default.engine`")


@dataclass(frozen=True)
class ModelRef:
    """A model as the user named it: its kind ("checkpoint", "onnx", "engine"), the file that holds
    it, and whether it is the bundled model."""
    kind: str
    path: Path
    default: bool = False

    @classmethod
    def parse(cls, value, kind: str | None = None, parameter: str | None = None) -> "ModelRef":
        """value: `default` or a path; kind: what the parameter takes (None: from the suffix).
        A missing, non-regular or unreadable file is an IfanError naming the parameter."""
        parameter = parameter or (f"--{kind}" if kind else "model")
        if is_default(value):
            kind = kind or "onnx"
            return cls(kind, bundled(kind, parameter), True)
        kind = kind or kind_of(value)
        if kind is None:
            raise IfanError(f"{value}: unknown model type ({parameter}); expected .onnx, .engine/.plan "
                            "or a checkpoint (.pth)")
        return cls(kind, readable(value, parameter))


def readable(path, parameter: str) -> Path:
    """path, after checking it is an existing, regular, readable file."""
    p = Path(path)
    if not p.exists():
        raise IfanError(f"{path}: no such file ({parameter})")
    if not p.is_file():
        raise IfanError(f"{path}: not a regular file ({parameter})")
    if not os.access(p, os.R_OK):
        raise IfanError(f"{path}: cannot read it ({parameter}: permission denied)")
    return p
