"""The bundled default model: IFAN (ch=16, N=8, official IAC mode) trained by us on synthetic
defocus (ifan_trt.training.synthetic, `ifan train`); its training record is the checkpoint's meta."""

from __future__ import annotations

from pathlib import Path

from ..errors import IfanError

DEFAULT_NAME = "default.pth"


def default_checkpoint_path() -> Path:
    """Path of the bundled default checkpoint (shipped as package data)."""
    path = Path(__file__).with_name(DEFAULT_NAME)
    if not path.is_file():
        raise IfanError(f"{path}: the bundled default model is missing from this install; "
                        "reinstall ifan-trt or pass --checkpoint FILE")
    return path
