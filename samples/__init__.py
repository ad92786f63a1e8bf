"""The bundled sample images (package data): a defocused photo and its sharp original."""

from importlib.resources import files
from pathlib import Path


def samples_dir() -> Path:
    """The folder holding the sample PNGs, in a checkout or an installed wheel alike."""
    return Path(str(files(__name__)))
