"""Progress of long work: tiles done / total of a large image and every step longer than the
delay, as transient bars on a terminal, as lines under --verbose elsewhere, and nothing otherwise."""

import io
import time

import cv2
import numpy as np

from ifan_trt.cli import main
from ifan_trt.commands import progress as progress_module
from ifan_trt.commands.progress import Progress
from ifan_trt.runtime.images.tiling import DEFAULT_OVERLAP, plan_tiles


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_terminal_shows_a_tile_bar_that_is_cleared_at_the_end():
    stream = _Terminal()
    p = Progress("ifan deblur", stream=stream, delay=0)
    for done in range(1, 5):
        time.sleep(0.12)  # tqdm redraws at most every 0.1 s
        p.tiles("big.png", done, 4)
    text = stream.getvalue()
    assert "big.png" in text and "4/4" in text and "tile" in text
    assert text.endswith("\r") and text.rsplit("\r", 2)[-2].strip() == ""  # cleared (leave=False)
    assert p._bar is None  # closed once all tiles are done


def test_nothing_is_shown_off_a_terminal_without_verbose():
    stream = io.StringIO()
    p = Progress("ifan deblur", stream=stream, delay=0)
    with p.step("reading big.png"):
        time.sleep(0.05)
    p.tiles("big.png", 4, 4)
    assert stream.getvalue() == ""


def test_verbose_off_a_terminal_prints_plain_lines_for_long_steps_only():
    stream = io.StringIO()
    p = Progress("ifan deblur", verbose=True, stream=stream, delay=0.05)
    with p.step("quick"):
        pass
    with p.step("writing out.png"):
        time.sleep(0.3)
    for done in range(1, 4):
        p.tiles("big.png", done, 3)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "ifan deblur: writing out.png ..."
    assert lines[1].startswith("ifan deblur: writing out.png: 0.") and lines[1].endswith(" s")
    assert lines[-1] == "ifan deblur: big.png: 3 of 3 tiles"
    assert not any("quick" in line for line in lines)


def test_ifan_deblur_reports_the_tiles_of_a_large_image_under_verbose(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(progress_module, "DELAY", 0.0)
    rgb = (np.random.default_rng(0).random((128, 192, 3)) * 255).astype(np.uint8)
    assert cv2.imwrite(str(tmp_path / "big.png"), rgb)
    total = len(plan_tiles(128, 192, 64, 64, DEFAULT_OVERLAP))
    assert main(["deblur", str(tmp_path / "big.png"), "-o", str(tmp_path / "out.png"), "--tile", "64x64",
                 "--verbose"]) == 0
    err = capsys.readouterr().err
    assert f"ifan deblur: big.png: {total} of {total} tiles" in err.splitlines()
    assert main(["deblur", str(tmp_path / "big.png"), "-o", str(tmp_path / "out.png"), "--tile", "64x64",
                 "--overwrite"]) == 0
    assert "tiles" not in capsys.readouterr().err  # not a terminal, no --verbose: nothing


def test_the_commands_hand_the_library_bars_drawn_on_a_terminal_only(tmp_path, monkeypatch):
    from ifan_trt.commands.progress import bars
    from ifan_trt.progress import bar

    terminal, pipe = _Terminal(), io.StringIO()
    for item in bar(bars(terminal), range(3), desc="images", unit="img"):
        pass
    assert "images:   0%|" in terminal.getvalue() and "0/3" in terminal.getvalue()  # drawn, then cleared
    assert list(bar(bars(pipe), range(3), desc="images")) == [0, 1, 2] and pipe.getvalue() == ""
    # a command passes them: `ifan synth` on a terminal draws its images' bar
    monkeypatch.setattr("sys.stderr", terminal)
    assert main(["synth", "-o", str(tmp_path / "set"), "--count", "2", "--size", "32x32"]) == 0
    assert "synth:   0%|" in terminal.getvalue() and "0/2" in terminal.getvalue()
