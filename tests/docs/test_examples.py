"""Every code block of README.md and docs/ runs as written, or says why it cannot.

A page's ```bash and ```python blocks run in order, in one working folder per page: a copy of the
repository (without the installed package's sources, so that the installed `ifan_trt` is the one
imported) with the `ifan` and `python` of this interpreter's environment first on PATH. A block
that cannot run on a CPU in a few seconds has `<!-- not run: REASON -->` on the line before its
fence; ```text blocks (synopses, printed output) are never run. Where a page says the examples take
the reader's own files (`photo.jpg`, `clip.mp4`, ...), small stand-ins made from the bundled sample
are put in the working folder first (STANDINS), unless a block of the page writes that file itself.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUN = {"bash", "python"}
NEVER_RUN = {"text"}  # a synopsis or what a program prints
BLOCK_TIMEOUT_S = 300

OPEN = re.compile(r"^(?P<indent>\s*)```(?P<lang>\S*)\s*$")
NOT_RUN = re.compile(r"^\s*<!--\s*not run\b(?P<rest>.*?)-->\s*$")
# the repository copy leaves out what is installed (imports must reach the installed package) and
# what is not the reader's checkout
NOT_COPIED = {"ifan_trt", "export", "runtime", "calib", "tests", ".git"}
NOT_COPIED_PATTERNS = shutil.ignore_patterns(".venv*", "build", "build-*", "__pycache__", "*.egg-info", ".pytest_cache")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    lang: str
    code: str
    not_run: str | None  # the marker's text after "not run", None without a marker

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    lines = page.read_text(encoding="utf-8").splitlines()
    found, i = [], 0
    while i < len(lines):
        m = OPEN.match(lines[i])
        if not m:
            i += 1
            continue
        indent, close = m["indent"], re.compile(rf"^{re.escape(m['indent'])}```\s*$")
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            j += 1
        body = [line[len(indent):] if line.startswith(indent) else line for line in lines[i + 1:j]]
        previous = next((lines[k] for k in range(i - 1, -1, -1) if lines[k].strip()), "")
        marker = NOT_RUN.match(previous)
        found.append(Block(page, i + 1, m["lang"], "\n".join(body) + "\n", marker["rest"] if marker else None))
        i = j + 1
    return found


ALL_BLOCKS = [b for page in PAGES for b in blocks(page)]


def reason(block: Block) -> str:
    """The text after 'not run:' ('' when the marker gives none)."""
    rest = (block.not_run or "").strip()
    return rest[1:].strip() if rest.startswith(":") else ""


def test_every_block_runs_or_says_why():
    problems = []
    for b in ALL_BLOCKS:
        if b.lang not in RUN | NEVER_RUN:
            problems.append(f"{b.where}: fence language {b.lang!r}: use bash, python (run) or text (never run)")
        elif b.not_run is not None and b.lang in NEVER_RUN:
            problems.append(f"{b.where}: a text block is never run; the not-run marker is for bash and python")
        elif b.not_run is not None and len(reason(b).split()) < 3:
            problems.append(f"{b.where}: write why it is not run: <!-- not run: needs ... -->")
    run = sum(b.lang in RUN and b.not_run is None for b in ALL_BLOCKS)
    skipped = [f"{b.where}: {reason(b)}" for b in ALL_BLOCKS if b.not_run is not None]
    print(f"\n{run} blocks run, {len(skipped)} not run:\n" + "\n".join(skipped))
    assert not problems, "\n".join(problems)


def test_not_run_markers_stand_before_a_fence():
    stray = []
    for page in PAGES:
        lines = page.read_text(encoding="utf-8").splitlines()
        for n, line in enumerate(lines):
            if line.lstrip().startswith("<!--") and "not run" in line:  # a marker, well formed or not
                following = next((x for x in lines[n + 1:] if x.strip()), "")
                if not OPEN.match(following) or not NOT_RUN.match(line):
                    stray.append(f"{page.relative_to(ROOT)}:{n + 1}: {line.strip()}")
    assert not stray, f"a not-run marker must be the line right before a code fence: {stray}"


# --- running the blocks -----------------------------------------------------------------------

def _sample_bgr():
    import cv2

    return cv2.imread(str(ROOT / "samples" / "defocused.png"), cv2.IMREAD_COLOR)


def _photo_jpg(path: Path):
    import cv2

    cv2.imwrite(str(path), _sample_bgr())


def _scan16_png(path: Path):
    import cv2
    import numpy as np

    cv2.imwrite(str(path), _sample_bgr()[:128, :160].astype(np.uint16) * 257)


def _shots(path: Path):
    import cv2

    image = _sample_bgr()
    (path / "more").mkdir(parents=True)
    cv2.imwrite(str(path / "a.png"), image[:96, :128])
    cv2.imwrite(str(path / "b.jpg"), image[100:196, 200:328])
    cv2.imwrite(str(path / "more" / "c.png"), image[200:264, 300:396])


def _clip_mp4(path: Path):
    import cv2
    import numpy as np

    image = _sample_bgr()
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (128, 96))
    assert writer.isOpened(), "OpenCV cannot write .mp4 here"
    for i in range(6):
        writer.write(np.ascontiguousarray(image[4 * i:4 * i + 96, 4 * i:4 * i + 128]))
    writer.release()


def _big_png(path: Path):
    shutil.copyfile(ROOT / "samples" / "defocused.png", path)  # 400x600: 512x512 tiles still split it


def _ifan_onnx(path: Path):
    import ifan_trt.weights

    # what `ifan export -o ifan.onnx` writes for the bundled model (tests/train checks it is)
    shutil.copyfile(Path(ifan_trt.weights.__file__).parent / "default.onnx", path)


STANDINS = {
    "photo.jpg": _photo_jpg,
    "scan16.png": _scan16_png,
    "shots": _shots,
    "clip.mp4": _clip_mp4,
    "big.png": _big_png,
    "ifan.onnx": _ifan_onnx,
}


def _written_by(code: str) -> set[str]:
    return set(re.findall(r"(?:-o|--output)\s+(\S+)", code))


def _working_copy(folder: Path, runnable: list[Block]) -> Path:
    def ignore(directory, names):
        skipped = set(NOT_COPIED_PATTERNS(directory, names))
        if Path(directory) == ROOT:
            skipped |= NOT_COPIED & set(names)
        return skipped

    work = folder / "checkout"
    shutil.copytree(ROOT, work, ignore=ignore)
    written = set().union(*(_written_by(b.code) for b in runnable))
    for name, make in STANDINS.items():
        if name not in written:
            make(work / name)
    return work


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.pop("PYTHONPATH", None)
    env.update(PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg")
    return env


RUNNABLE_PAGES = [p for p in PAGES if any(b.lang in RUN and b.not_run is None for b in blocks(p))]


@pytest.mark.slow
@pytest.mark.parametrize("page", RUNNABLE_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_page_examples_run(page, tmp_path):
    if shutil.which("ifan", path=str(Path(sys.executable).parent)) is None:
        pytest.fail(f"no `ifan` beside {sys.executable}: install the project (pip install -e .) first")
    runnable = [b for b in blocks(page) if b.lang in RUN and b.not_run is None]
    work = _working_copy(tmp_path, runnable)
    env = _environment()
    for n, block in enumerate(runnable):
        script = tmp_path / f"block{n}.{'sh' if block.lang == 'bash' else 'py'}"
        script.write_text(block.code, encoding="utf-8")
        command = ["bash", "-e", "-o", "pipefail", str(script)] if block.lang == "bash" else [sys.executable, str(script)]
        done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=BLOCK_TIMEOUT_S)
        assert done.returncode == 0, (
            f"{block.where}: the {block.lang} block failed (exit {done.returncode}):\n{block.code}"
            f"--- stdout ---\n{done.stdout[-2000:]}\n--- stderr ---\n{done.stderr[-3000:]}")
        missing = [name for name in sorted(_written_by(block.code)) if not (work / name).exists()]
        assert not missing, f"{block.where}: the block says it writes {missing}, which do not exist afterwards"
