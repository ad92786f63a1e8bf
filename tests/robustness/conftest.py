"""Fixtures of the hostile-input suite: tiny models made once per session, and a sandbox folder per
case in which `ifan` runs in-process (see hostile.py for what every case checks)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.robustness.hostile import Result, snapshot


@dataclass
class Assets:
    folder: Path
    checkpoint: Path  # ch=8, N=2
    dual: Path  # the same, dual-pixel


@pytest.fixture(scope="session")
def assets(tmp_path_factory) -> Assets:
    pytest.importorskip("torch")
    from tests.helpers.models import random_model
    from ifan_trt.checkpoint import save_checkpoint

    folder = tmp_path_factory.mktemp("assets")
    save_checkpoint(random_model(), folder / "small.pth")
    save_checkpoint(random_model(dual=True), folder / "dual.pth")
    return Assets(folder, folder / "small.pth", folder / "dual.pth")


class Sandbox:
    """A fresh working folder; `run` snapshots it, runs `ifan` in-process, snapshots again."""

    def __init__(self, root: Path, capfd, request):
        self.root, self.capfd, self._request = root, capfd, request

    @property
    def _assets(self) -> Assets:
        return self._request.getfixturevalue("assets")  # made on first use only

    def path(self, name: str) -> Path:
        p = self.root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def copy(self, source: Path, name: str) -> Path:
        return Path(shutil.copyfile(source, self.path(name)))

    @property
    def ck(self) -> str:
        """The small checkpoint, copied into the sandbox (so it is a pre-existing, protected file)."""
        if not (self.root / "ck.pth").exists():
            self.copy(self._assets.checkpoint, "ck.pth")
        return "ck.pth"

    @property
    def dual(self) -> str:
        if not (self.root / "dual.pth").exists():
            self.copy(self._assets.dual, "dual.pth")
        return "dual.pth"

    def run(self, *argv: str) -> Result:
        from ifan_trt.cli import main

        before = snapshot(self.root)
        self.capfd.readouterr()
        code = main([str(a) for a in argv])
        out, err = self.capfd.readouterr()
        return Result(code, out, err, before, snapshot(self.root))


@pytest.fixture
def sandbox(tmp_path, capfd, monkeypatch, request) -> Sandbox:
    root = tmp_path / "box"
    root.mkdir()
    monkeypatch.chdir(root)
    yield Sandbox(root, capfd, request)
    for folder, dirs, _ in os.walk(root):  # read-only folders made by a case
        for d in dirs:
            os.chmod(Path(folder) / d, 0o755)
