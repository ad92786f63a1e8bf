"""Shared fixtures: the small random IFAN (tests/helpers/models.py) as a checkpoint and as ONNX
exports, made once per session."""

from __future__ import annotations

import pytest

from pathlib import Path

from tests.helpers.models import random_model


@pytest.fixture
def small_checkpoint(tmp_path):
    from ifan_trt.checkpoint import save_checkpoint

    path = tmp_path / "small.pth"
    save_checkpoint(random_model(), path)
    return path


@pytest.fixture(scope="session")
def models(tmp_path_factory):
    """models(kind) -> path of the small model as a checkpoint ("checkpoint") or an ONNX export
    ("onnx": standard-op IAC, "plugin": the IFAN_IAC node), each made once per session."""
    folder = tmp_path_factory.mktemp("small_models")
    made: dict[str, Path] = {}

    def get(kind: str) -> Path:
        if kind not in made:
            checkpoint = folder / "small.pth"
            if not checkpoint.exists():
                from ifan_trt.checkpoint import save_checkpoint

                save_checkpoint(random_model(), checkpoint)
            if kind == "checkpoint":
                made[kind] = checkpoint
            else:
                from ifan_trt.export import export_onnx

                made[kind] = export_onnx(checkpoint, folder / f"small_{kind}.onnx", iac_form=kind).path
        return made[kind]

    return get


@pytest.fixture
def command_log(capsys):
    """A command's run() called directly, with the ifan logger on the captured stderr as `ifan`
    puts it (information plain, warnings `ifan build: warning: ...`)."""
    import sys

    from ifan_trt import log

    with log.to_terminal("ifan build", log.level_for(), sys.stderr):
        yield capsys
