"""The Jetson install lines of docs/install.md, resolved for a Jetson (linux-aarch64, CPython
3.10, as JetPack 6's Ubuntu 22.04) by pip's own resolver against the package index, wheels only
(a Jetson builds nothing): they bring what `ifan build`, `ifan inspect`, `ifan deblur` and the
precision steps import, and a cuda-python built for the JetPack's CUDA (Tegra has no CUDA
minor-version compatibility: a newer embedded runtime fails on the JetPack driver). Skipped, with
the reason, where the index cannot be reached."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# NVIDIA's JetPack 6 releases: the CUDA each one installs
JETPACK_CUDA = {"6.0": (12, 2), "6.1": (12, 6), "6.2": (12, 6)}
# what the commands import on a Jetson beside JetPack's TensorRT and OpenCV
NEEDED = {"onnx", "onnxruntime", "onnxruntime-extensions", "onnxconverter-common", "polygraphy", "numpy",
          "pillow", "tqdm"}
# manylinux tags a JetPack 6 (glibc 2.35) installs; older pips do not expand one tag to the older ones
PLATFORMS = [f"manylinux_2_{minor}_aarch64" for minor in range(35, 16, -1)] + ["manylinux2014_aarch64"]
NETWORK = re.compile(r"NewConnectionError|Max retries exceeded|Could not fetch URL|Temporary failure in name "
                     r"resolution|Network is unreachable|ConnectTimeout|ReadTimeout|SSLError|ProxyError|"
                     r"Connection refused|timed out", re.IGNORECASE)


def install_lines() -> dict[str, str]:
    """{JetPack version: the pip install line docs/install.md gives for it}, from its table."""
    text = (ROOT / "docs" / "install.md").read_text()
    lines = {}
    for versions, line in re.findall(r"^\| ([\d., ]+) \| [\d.]+ \| `([^`]*pip install[^`]*)` \|$", text, re.M):
        for version in re.findall(r"\d+\.\d+", versions):
            lines[version] = line
    return lines


def requirements(line: str) -> list[str]:
    """The requirements an `pip install -e ".[extras]" [more]` line asks for, the project's
    extras expanded from pyproject.toml (its own extras included, recursively)."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    args = re.findall(r'"([^"]+)"', line)
    assert args and args[0].startswith(".["), line
    wanted, reqs, seen = list(re.match(r"\.\[([^\]]*)\]", args[0]).group(1).split(",")), list(project["dependencies"]), set()
    while wanted:
        extra = wanted.pop().strip()
        if extra in seen:
            continue
        assert extra in extras, f"{line}: no extra {extra!r} in pyproject.toml"
        seen.add(extra)
        for req in extras[extra]:
            own = re.match(r"ifan-trt\[([^\]]+)\]", req)
            if own:
                wanted += own.group(1).split(",")
            else:
                reqs.append(req)
    return reqs + args[1:]


def resolve(reqs: list[str], target: Path) -> dict[str, str]:
    """{name: version} pip would install on a Jetson, or a skip when the index is unreachable."""
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--report", "-", "--ignore-installed",
           "--target", str(target), "--python-version", "3.10", "--implementation", "cp", "--only-binary=:all:",
           "--timeout", "30", "--retries", "1", "--disable-pip-version-check",
           *[arg for platform in PLATFORMS for arg in ("--platform", platform)], *reqs]
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        pytest.skip("the package index did not answer within 10 minutes")
    if result.returncode != 0:
        if NETWORK.search(result.stderr):
            pytest.skip(f"the package index is unreachable: {NETWORK.search(result.stderr).group(0)}")
        if "no such option: --dry-run" in result.stderr or "no such option: --report" in result.stderr:
            pytest.skip("this pip has no --dry-run --report (pip 22.2 or newer has)")
        pytest.fail(f"pip cannot resolve {reqs} for linux-aarch64 / CPython 3.10:\n{result.stderr[-3000:]}")
    report = json.loads(result.stdout)
    return {re.sub(r"[-_.]+", "-", item["metadata"]["name"]).lower(): item["metadata"]["version"]
            for item in report["install"]}


def test_every_jetpack_6_has_one_install_line():
    lines = install_lines()
    assert set(lines) == set(JETPACK_CUDA), lines
    for line in lines.values():
        assert line.count("pip install") == 1 and "[" in line


@pytest.mark.parametrize("jetpack", sorted(JETPACK_CUDA))
def test_install_line_resolves_for_the_jetpack_cuda(jetpack, tmp_path):
    resolved = resolve(requirements(install_lines()[jetpack]), tmp_path / "target")
    missing = NEEDED - set(resolved)
    assert not missing, f"JetPack {jetpack}: the install line lacks {sorted(missing)}"
    assert int(resolved["numpy"].split(".")[0]) < 2  # JetPack's OpenCV is built against NumPy 1.x
    binding = resolved.get("cuda-bindings") or resolved.get("cuda-python")
    assert binding, f"JetPack {jetpack}: no CUDA binding in {sorted(resolved)}"
    major, minor = (int(v) for v in binding.split(".")[:2])
    assert (major, minor) == JETPACK_CUDA[jetpack], (
        f"JetPack {jetpack} (CUDA {'.'.join(map(str, JETPACK_CUDA[jetpack]))}): the line resolves the binding "
        f"{binding}, whose CUDA runtime the JetPack driver does not run")
    assert not {"torch", "opencv-python", "opencv-python-headless", "tensorrt"} & set(resolved), (
        "a Jetson takes torch-free, and TensorRT and OpenCV from JetPack")
