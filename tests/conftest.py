"""Shared fixtures: small checkpoints written on the fly (helpers in ifan_fixtures.py)."""

from __future__ import annotations

import pytest

from tests.helpers.models import random_model


@pytest.fixture
def small_checkpoint(tmp_path):
    from ifan_trt.checkpoint import save_checkpoint

    path = tmp_path / "small.pth"
    save_checkpoint(random_model(), path)
    return path
