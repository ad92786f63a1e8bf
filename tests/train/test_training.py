"""`ifan train`: a tiny run writes a loadable checkpoint with its record, and resumes."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from ifan_trt.checkpoint import load_checkpoint
from ifan_trt.train import lr_at, main


def test_tiny_run_records_and_resumes(tmp_path):
    out = tmp_path / "m.pth"
    args = ["--out", str(out), "--ch", "8", "--n-iters", "2", "--patch", "32", "--batch", "1",
            "--log-every", "1", "--val-count", "1", "--seed", "3", "--threads", "1"]
    assert main(args + ["--steps", "2"]) == 0
    first = load_checkpoint(out)
    assert first.config.ch == 8 and first.config.n_iters == 2 and first.config.iac_mode == "official"
    meta = first.meta
    assert meta["steps"] == 2 and meta["seed"] == 3 and meta["final"] is True
    assert meta["command"].startswith(f"ifan train --out {out} --ch 8 --n-iters 2 --patch 32 --batch 1 ")
    assert " --seed 3 " in meta["command"] and "--resume" not in meta["command"]
    assert "val_psnr_model" in meta["history"][-1] and meta["why_this_size"]
    assert (tmp_path / "m.pth.state.pt").is_file()

    assert main(args + ["--steps", "3", "--resume"]) == 0
    assert load_checkpoint(out).meta["steps"] == 3


def test_resume_without_state_is_an_error(tmp_path, capsys):
    assert main(["--out", str(tmp_path / "x.pth"), "--resume", "--steps", "1"]) == 1
    assert "no training state to resume" in capsys.readouterr().err


def test_learning_rate_warms_up_then_anneals():
    assert lr_at(0.0, 1e-3, 0) == pytest.approx(1e-3 / 200)
    assert lr_at(0.0, 1e-3, 500) == pytest.approx(1e-3)
    assert lr_at(0.5, 1e-3, 500) == pytest.approx(1e-3 * (0.02 + 0.49))
    assert lr_at(1.0, 1e-3, 500) == pytest.approx(2e-5)
