"""The GPU blocks of docs/install.md (desktop GPU, Jetson) run as written, in a fresh virtual
environment made by the block itself, with TensorRT's module and the CUDA bindings replaced by
the test suite's stand-ins (tests/helpers/fake_tensorrt.py; tests/install/standin_hook.py puts
them where JetPack or pip's TensorRT would be). Each block runs in a copy of the checkout with
HOME in a temporary folder.

What cannot run here is stood in for, one rule per kind of line, and nothing else changes:
- `sudo apt-get` (system packages: TensorRT and CUDA are the stand-ins) and `git clone` (headers
  for the plugin build) are not run;
- `cmake -S` is checked (on the Jetson it must name nvcc: JetPack keeps it off PATH) and `cmake
  --build` is replaced by the stand-in's plugin library at the path the build writes;
- `python3 -m venv` runs with this interpreter and `--system-site-packages`, and `pip install`
  gets `--no-deps`: the venv sees the packages installed here instead of downloading them (pip's
  TensorRT is a GB); the Jetson's dependency set is resolved in test_jetson_install.py;
- trtexec (a labelled smoke test of the plugin) is not run.
Every `ifan` and `python` line runs unchanged and must exit 0."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "install.md"

fake_tensorrt = pytest.importorskip("tests.helpers.fake_tensorrt")
if not hasattr(fake_tensorrt, "install") or not hasattr(fake_tensorrt, "write_plugin_library"):
    pytest.skip("the TensorRT stand-in has no install()/write_plugin_library() to put it in a process",
                allow_module_level=True)
pytest.importorskip("onnxruntime")
pytest.importorskip("polygraphy")


def sections(text: str) -> dict[str, list[str]]:
    """{level-2 heading: the commands of its bash blocks}, continuation lines joined."""
    found: dict[str, list[str]] = {}
    heading = None
    for part in re.split(r"^(## .*)$", text, flags=re.M):
        if part.startswith("## "):
            heading = part[3:].strip()
            continue
        for block in re.findall(r"^```bash\n(.*?)^```", part, re.S | re.M):
            joined = re.sub(r"\\\n\s*", " ", block)
            found.setdefault(heading, []).extend(line for line in joined.splitlines() if line.strip())
    return found


def _copy_checkout(dest: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.splitlines()
    for name in files:
        source = ROOT / name
        if source.is_file() and not name.startswith((".venv", "build")):
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def _hook_venv(venv: Path) -> None:
    """The stand-ins, where a system TensorRT would be: a .pth that loads the hook at start-up."""
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    shutil.copy2(Path(__file__).with_name("standin_hook.py"), Path(purelib) / "standin_hook.py")
    (Path(purelib) / "ifan_standin_hook.pth").write_text("import standin_hook\n")


def run_block(commands: list[str], work: Path, jetson: bool) -> dict[str, str]:
    """Run the commands as the module docstring says; returns {command: its stdout} of those run."""
    home = work.parent / "home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH", "IFAN_"))}
    env.update(HOME=str(home), IFAN_STANDIN_ROOT=str(work))
    outputs = {}
    for line in commands:
        tokens = [str(home) + t[1:] if t.startswith("~/") else t.replace("$HOME", str(home))
                  for t in shlex.split(line, comments=True)]
        if not tokens:
            continue
        program = Path(tokens[0]).name
        if program in ("sudo", "git") or program == "trtexec":
            continue
        if program == "cmake":
            if "--build" in tokens:
                fake_tensorrt.write_plugin_library(_mkdir(work / tokens[tokens.index("--build") + 1]
                                                          / "plugins" / "iacPlugin"))
            elif jetson:
                assert any(t.startswith("-DCMAKE_CUDA_COMPILER=") for t in tokens), \
                    f"{line}: JetPack keeps nvcc off PATH; name it with -DCMAKE_CUDA_COMPILER"
            continue
        if program.startswith("python3") and tokens[1:3] == ["-m", "venv"]:
            tokens[0] = sys.executable
            if "--system-site-packages" not in tokens:
                tokens.insert(3, "--system-site-packages")
            result = subprocess.run(tokens, cwd=work, env=env, capture_output=True, text=True, timeout=300)
            assert result.returncode == 0, f"{line}:\n{result.stderr}"
            _hook_venv(Path(work, tokens[-1]))
            continue
        if program == "pip" and "install" in tokens:
            tokens += ["--no-deps", "--quiet"]
        result = subprocess.run(tokens, cwd=work, env=env, capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, f"{line}\n--> exit {result.returncode}:\n{result.stderr[-4000:]}"
        outputs[line] = result.stdout
    return outputs


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _split_venv_lines(commands: list[str]) -> list[str]:
    """`A && B` as two lines (the blocks chain the venv and its pip install)."""
    return [part.strip() for line in commands for part in line.split(" && ")]


def test_the_doc_has_the_gpu_blocks():
    found = sections(DOC.read_text())
    assert any("ifan build" in c for c in found["Jetson (JetPack 6)"])
    assert any("ifan build" in c for c in found["Desktop GPU (Linux, NVIDIA driver)"])
    text = DOC.read_text()
    smoke = text.index("trtexec --onnx")
    assert "smoke test" in text[max(0, smoke - 600):smoke], "the trtexec block is labelled a plugin smoke test"


@pytest.mark.slow
@pytest.mark.parametrize("heading,jetson", [("Jetson (JetPack 6)", True),
                                            ("Desktop GPU (Linux, NVIDIA driver)", False)])
def test_gpu_block_runs_as_written(heading, jetson, tmp_path):
    commands = _split_venv_lines(sections(DOC.read_text())[heading])
    work = _copy_checkout(_mkdir(tmp_path / "checkout"))
    outputs = run_block(commands, work, jetson)
    versions = [out.strip() for line, out in outputs.items() if "import tensorrt" in line]
    assert versions and all(v.startswith("10.") for v in versions), versions  # the stand-in's 10.3
    assert (work / "ifan.engine").is_file() and (work / "ifan.engine.json").is_file()
    import cv2

    sharp, source = cv2.imread(str(work / "sharp.png")), cv2.imread(str(work / "samples" / "defocused.png"))
    assert sharp is not None and sharp.shape == source.shape
    assert 0 < float(abs(sharp.astype(float) - source.astype(float)).mean()) < 20  # deblurred, not garbage
