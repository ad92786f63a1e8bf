"""Image folders, one set of rules for every command that takes a folder of images (`--images`,
`--calib-images`) or a test set (`--data`).

A folder is one of:
  plain          images directly inside it (no targets: fine for deblur, fp16, calibrate, audit)
  DPDD           test_c/source, test_c/target (dual-pixel models also test_l/source, test_r/source)
  source/target  source/ and target/ side by side: RealDOF, any paired set, and what `ifan synth`
                 writes (with --dual, synth writes the DPDD layout)
The blurry images of a paired layout are its source images; pairs are matched by file stem.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import IfanError
from .imageio import EXTENSIONS


@dataclass(frozen=True)
class Layout:
    name: str  # "plain", "DPDD" or "source/target"
    source: Path
    target: Path | None
    root: Path


@dataclass
class Pair:
    name: str
    source: Path
    target: Path
    left: Path | None = None
    right: Path | None = None


def is_listed(path: Path) -> bool:
    """The one rule of every folder listing: an image name, not a folder, not hidden (so never a
    temp of an unfinished write). Special files with an image name (FIFOs, devices) are kept, so
    that reading them reports them instead of their being skipped without a word."""
    return path.suffix.lower() in EXTENSIONS and not path.name.startswith(".") and not path.is_dir()


def images_in(folder: Path, recursive: bool = False) -> list[Path]:
    """The images inside a folder (and its sub-folders if recursive), sorted by path."""
    return sorted(p for p in (folder.rglob("*") if recursive else folder.iterdir()) if is_listed(p))


def layout_of(folder: str | os.PathLike) -> Layout:
    root = Path(folder)
    if not root.is_dir():
        raise IfanError(f"{root}: no such folder (expected images, a source/target set, DPDD or RealDOF)")
    if (root / "test_c" / "source").is_dir():
        return Layout("DPDD", root / "test_c" / "source", root / "test_c" / "target", root)
    if (root / "source").is_dir():
        return Layout("source/target", root / "source", root / "target", root)
    return Layout("plain", root, None, root)


def find_images(folder: str | os.PathLike, count: int | None = None) -> list[Path]:
    """The blurry images of any layout (at most count of them, first by name)."""
    layout = layout_of(folder)
    images = images_in(layout.source)
    if count is not None:
        if count < 1:
            raise IfanError(f"count {count}: must be at least 1")
        images = images[:count]
    if not images:
        where = "" if layout.name == "plain" else f" ({layout.name} layout: {layout.source})"
        raise IfanError(f"{folder}: no images ({', '.join(EXTENSIONS)}){where}; expected images, a "
                        "source/target set (as `ifan synth` writes), DPDD or RealDOF")
    return images


def find_pairs(data: str | os.PathLike, dual: bool = False) -> tuple[str, list[Pair]]:
    """(layout name, pairs) of blurry and sharp images, for scoring against ground truth."""
    layout = layout_of(data)
    if layout.target is None:
        raise IfanError(f"{data}: no ground truth: neither test_c/source (DPDD) nor source/ + target/ "
                        "(RealDOF, `ifan synth`) found")
    if not layout.target.is_dir():
        raise IfanError(f"{layout.target}: missing; every source image needs a sharp target of the same name")
    stems = lambda folder: {p.stem: p for p in images_in(folder)}
    sources, targets = stems(layout.source), stems(layout.target)
    missing = sorted(set(sources) - set(targets))
    if missing:
        raise IfanError(f"{layout.target}: no target for {len(missing)} source image(s), e.g. {missing[0]}")
    if not sources:
        raise IfanError(f"{layout.source}: no images")
    lefts = rights = {}
    if dual:
        if layout.name != "DPDD":
            raise IfanError(f"{data}: a dual-pixel model needs the DPDD layout (test_l/source, test_r/source)")
        lefts, rights = (stems(layout.root / f"test_{v}" / "source") if (layout.root / f"test_{v}" / "source").is_dir()
                         else {} for v in ("l", "r"))
        gaps = sorted(set(sources) - set(lefts) | set(sources) - set(rights))
        if gaps:
            raise IfanError(f"{data}: no dual-pixel views (test_l/test_r) for {len(gaps)} image(s), e.g. {gaps[0]}")
    return layout.name, [Pair(n, sources[n], targets[n], lefts.get(n), rights.get(n)) for n in sorted(sources)]
