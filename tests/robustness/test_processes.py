"""What needs a real process: signals during a write, a FIFO that would block forever, and the
`python -m` / build_engine.py entries going through the same boundary (one line, no traceback)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.robustness import hostile as h
from ifan_trt.files import is_temp

pytestmark = pytest.mark.timeout(180)
REPO = Path(__file__).resolve().parents[2]


def _ifan(*argv, cwd, **kwargs):
    return subprocess.run([sys.executable, "-m", "ifan_trt.cli", *map(str, argv)], cwd=cwd, capture_output=True,
                          text=True, timeout=120, **kwargs)


@pytest.mark.parametrize("sig,code,word", [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")])
def test_a_signal_mid_run_leaves_only_complete_files(tmp_path, sig, code, word):
    pytest.importorskip("skimage")
    proc = subprocess.Popen([sys.executable, "-m", "ifan_trt.cli", "synth", "-o", "set", "--count", "5000",
                             "--size", "64x64", "--photos", "none"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    source = tmp_path / "set" / "source"
    deadline = time.time() + 90
    while not (source.is_dir() and len(os.listdir(source)) >= 3):
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert err.strip().splitlines()[-1] == f"ifan synth: {word}" and "Traceback" not in err
    written = [p for d in ("source", "target") for p in (tmp_path / "set" / d).iterdir()]
    assert not [p for p in written if is_temp(p)]
    for path in written:
        h.read_back(path)  # every file under a final name is complete


def test_a_fifo_input_never_blocks(tmp_path):
    os.mkfifo(tmp_path / "x.png")
    r = _ifan("deblur", "x.png", "-o", "out.png", cwd=tmp_path)
    assert r.returncode == 1 and r.stderr.strip() == "ifan deblur: error: x.png: is a FIFO; only regular files are read"
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("argv,line", [
    (["-m", "ifan_trt.cli", "train", "-o", "m.pth", "--ch", "0"],
     "ifan train: error: argument --ch: must be between 1 and 128, got 0"),
    (["-m", "ifan_trt.cli", "deblur", "a.png", "-o", "b.png", "--batch", "0"],
     "ifan deblur: error: argument --batch: must be >= 1, got 0"),
    (["-m", "ifan_trt", "eval", "--data", "nowhere"],
     "ifan eval: error: nowhere: no such folder (expected images, a source/target set, DPDD or RealDOF)"),
    ([str(REPO / "build_engine.py"), "--onnx", "missing.onnx", "-o", "m.plan"],
     "ifan build: error: missing.onnx: no such file (--onnx)"),
])
def test_every_entry_point_uses_the_boundary(tmp_path, argv, line):
    r = subprocess.run([sys.executable, *argv], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.stderr.strip() == line and r.returncode in (1, 2) and "Traceback" not in r.stderr
    assert os.listdir(tmp_path) == []


def test_library_warnings_are_silent_unless_verbose(tmp_path):
    """torch warns about the pickle protocol of this file: the user sees only the one error line."""
    import pickle

    (tmp_path / "a.png").write_bytes(b"")
    (tmp_path / "bad.pth").write_bytes(pickle.dumps({"x": 1}, protocol=4))
    r = _ifan("deblur", "a.png", "-o", "b.png", "--checkpoint", "bad.pth", cwd=tmp_path)
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    r = _ifan("deblur", "a.png", "-o", "b.png", "--checkpoint", "bad.pth", "--verbose", cwd=tmp_path)
    assert r.returncode == 1 and "UserWarning" in r.stderr
