"""`ifan deblur` on a folder: same-size images share one run up to the engine's batch (or
--batch); a bad file skips only itself; every output is its own image's result."""

import cv2
import numpy as np
import pytest

from tests.helpers.runtime import FakeExecutor  # noqa: E402
from ifan_trt.cli import main
from ifan_trt.runtime.interface.executor import ShapeLimits


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(3)
    src = tmp_path / "in"
    src.mkdir()
    images = {}
    for name, (h, w) in [(f"a{i}", (24, 32)) for i in range(5)] + [("b0", (16, 16)), ("b1", (13, 14))]:
        images[name] = rng.integers(0, 256, (h, w, 3)).astype(np.uint8)
        assert cv2.imwrite(str(src / f"{name}.png"), images[name])
    (src / "c_bad.png").write_bytes(b"not a png")
    return src, images


def _run(monkeypatch, tmp_path, src, limits, *extra):
    fake = FakeExecutor(fn=lambda x: 1 - x, limits=limits)
    monkeypatch.setattr("ifan_trt.runtime.executors.backends.open_executor", lambda *a, **k: fake)
    code = main(["deblur", str(src), "-o", str(tmp_path / "out"), *extra])
    return code, fake.calls


@pytest.mark.parametrize("limits,extra,calls", [
    # engine batch 4: chunks a0-a3 | a4 b0 b1 c_bad -> one run per size in each chunk
    (ShapeLimits(max_batch=4), (), [(4, 3, 24, 32), (1, 3, 24, 32), (1, 3, 16, 16), (1, 3, 16, 16)]),
    # --batch 2 within the engine's 4
    (ShapeLimits(max_batch=4), ("--batch", "2"),
     [(2, 3, 24, 32), (2, 3, 24, 32), (1, 3, 24, 32), (1, 3, 16, 16), (1, 3, 16, 16)]),
    # --batch above the engine's limit is capped at it
    (ShapeLimits(max_batch=2), ("--batch", "8"),
     [(2, 3, 24, 32), (2, 3, 24, 32), (1, 3, 24, 32), (1, 3, 16, 16), (1, 3, 16, 16)]),
    # CPU backends (no batch limit): one image per run unless asked
    (ShapeLimits(), (), [(1, 3, 24, 32)] * 5 + [(1, 3, 16, 16)] * 2),
    (ShapeLimits(), ("--batch", "8"), [(5, 3, 24, 32), (1, 3, 16, 16), (1, 3, 16, 16)]),
])
def test_same_size_images_are_batched(monkeypatch, tmp_path, capsys, folder, limits, extra, calls):
    src, images = folder
    code, got = _run(monkeypatch, tmp_path, src, limits, *extra)
    assert code == 1  # the bad file
    assert got == calls
    err = capsys.readouterr().err
    assert f"skipped {src / 'c_bad.png'}:" in err and "1 of 8 inputs failed" in err
    for name, a in images.items():
        out = cv2.imread(str(tmp_path / "out" / f"{name}.png"), cv2.IMREAD_UNCHANGED)
        assert out.shape == a.shape
        assert np.abs(out.astype(int) - (255 - a.astype(int))).max() <= 1  # its own image, inverted
    assert not (tmp_path / "out" / "c_bad.png").exists()


def test_a_failed_batch_skips_its_images_only(monkeypatch, tmp_path, capsys, folder):
    src, images = folder

    def fn(x):
        if x.shape[-1] == 16:
            raise ValueError("out of memory for this shape")
        return 1 - x

    fake = FakeExecutor(fn=fn, limits=ShapeLimits(max_batch=8))
    monkeypatch.setattr("ifan_trt.runtime.executors.backends.open_executor", lambda *a, **k: fake)
    assert main(["deblur", str(src), "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert f"skipped {src / 'b0.png'}: out of memory at 16x16 (out of memory for this shape)" in err
    assert f"skipped {src / 'b1.png'}: out of memory at 13x14 (out of memory for this shape)" in err
    assert "3 of 8 inputs failed" in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"a{i}.png" for i in range(5)]


def test_eval_runs_through_the_same_batching(monkeypatch, tmp_path):
    """`ifan eval` deblurs with deblur's orchestration: same-size pairs share a run on a batching
    engine, and each pair is scored against its own target (here the exact inverse: +inf PSNR
    for the model, the input's own finite score)."""
    import json

    rng = np.random.default_rng(4)
    for sub in ("source", "target"):
        (tmp_path / "set" / sub).mkdir(parents=True)
    for i, (h, w) in enumerate([(24, 32)] * 3 + [(16, 16)]):
        a = rng.integers(0, 256, (h, w, 3)).astype(np.uint8)
        cv2.imwrite(str(tmp_path / "set" / "source" / f"p{i}.png"), a)
        cv2.imwrite(str(tmp_path / "set" / "target" / f"p{i}.png"), 255 - a)
    fake = FakeExecutor(fn=lambda x: 1 - x, limits=ShapeLimits(max_batch=4))
    monkeypatch.setattr("ifan_trt.runtime.executors.backends.open_executor", lambda *a, **k: fake)
    report = tmp_path / "eval.json"
    assert main(["eval", "--data", str(tmp_path / "set"), "--json", str(report),
                 "--save-dir", str(tmp_path / "saved")]) == 0
    assert fake.calls == [(3, 3, 24, 32), (1, 3, 16, 16)]
    summary = json.loads(report.read_text())
    assert summary["count"] == 4 and summary["output"]["mae"] < 1e-6 and summary["input"]["mae"] > 0.3
    saved = cv2.imread(str(tmp_path / "saved" / "p3.png"))
    np.testing.assert_array_equal(saved, cv2.imread(str(tmp_path / "set" / "target" / "p3.png")))
    fake.calls.clear()
    assert main(["eval", "--data", str(tmp_path / "set"), "--tile", "16x16", "--overlap", "0"]) == 0
    assert fake.calls[0] == (4, 3, 16, 16)  # the first 24x32 pair as four 16x16 tiles in one run
    fake.calls.clear()
    assert main(["eval", "--data", str(tmp_path / "set"), "--tile", "16x16", "--overlap", "0", "--batch", "1"]) == 0
    assert fake.calls[:4] == [(1, 3, 16, 16)] * 4  # --batch 1: one tile per run (the memory budget)
