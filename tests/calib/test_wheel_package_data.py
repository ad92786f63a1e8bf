"""A normal (non-editable) wheel install finds its package data: the bundled model and the sample
images that `ifan precision --to fp16` measures on when no --calib-images is given."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxconverter_common")


def _not_needed(folder: str, names: list[str]) -> set[str]:
    """What a wheel build does not read: repository tooling, build folders, caches."""
    top = Path(folder) == REPO
    return {n for n in names if n in ("__pycache__", ".pytest_cache") or n.endswith(".egg-info")
            or (top and (n in (".git", "tests", "bench", "plugins", "docs") or n.startswith((".venv", "build"))))}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    # built from a copy: setuptools writes build/ beside the sources, which must not land in the checkout
    source = tmp_path_factory.mktemp("source") / "ifan-trt"
    shutil.copytree(REPO, source, ignore=_not_needed)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(out), str(source)], check=True, timeout=300, capture_output=True)
    (found,) = out.glob("ifan_trt-*.whl")
    return found


def test_wheel_holds_the_package_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"ifan_trt/weights/default.pth", "ifan_trt/samples/defocused.png",
            "ifan_trt/samples/sharp.png"} <= names
    assert not any(n.startswith(("tests/", "bench/", "tools/")) for n in names)


def test_installed_wheel_uses_its_bundled_images(wheel, small_exports, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                    str(wheel)], check=True, timeout=300, capture_output=True)
    # -S: no .pth files, so the checkout's editable install cannot answer `import ifan_trt`;
    # the wheel's folder comes first, the dependencies come from this environment's site-packages
    path = os.pathsep.join([str(target), *site.getsitepackages()])
    code = ("import sys; sys.path[:0] = sys.argv[1].split(__import__('os').pathsep); "
            "import ifan_trt; assert ifan_trt.__file__.startswith(sys.argv[2]), ifan_trt.__file__; "
            "from ifan_trt.cli import main; sys.exit(main(sys.argv[3:]))")
    out = tmp_path / "m.fp16.onnx"
    run = subprocess.run([sys.executable, "-S", "-c", code, path, str(target), "precision", str(small_exports["onnx"]),
                          "--to", "fp16", "-o", str(out), "--calib-size", "32x32", "--calib-count", "2"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert out.is_file()
    assert str(target / "ifan_trt" / "samples") in run.stderr, run.stderr
