"""The floors of the code base and their one-way imports, checked on the source tree.

core (ifan_trt/*.py, weights, samples) <- export <- calib | runtime <- runtime/tensorrt <- training
<- jobs <- commands (+ cli, __main__). runtime reaches runtime/tensorrt only through the executor
choice (runtime/executors/backends.py), lazily; a command imports jobs, core and at most one lower floor.
Every import is counted: module level, inside functions, and importlib.import_module("...")
with a literal name. The package-dir mapping of pyproject.toml applies (export/ is
ifan_trt.export, and so on), so an import is judged by the module it really reaches.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRS = {"ifan_trt": "ifan_trt", "export": "ifan_trt.export", "runtime": "ifan_trt.runtime",
               "calib": "ifan_trt.calib", "samples": "ifan_trt.samples"}
# floor -> the floors it may import (itself included)
ALLOWED = {
    "core": {"core"},
    "export": {"core", "export"},
    "calib": {"core", "export", "calib"},
    "runtime": {"core", "export", "runtime"},
    "tensorrt": {"core", "export", "runtime", "tensorrt"},
    "training": {"core", "export", "runtime", "tensorrt", "training"},
    "jobs": {"core", "export", "calib", "runtime", "tensorrt", "training", "jobs"},
    "commands": {"core", "export", "calib", "runtime", "tensorrt", "training", "jobs", "commands"},
}
# the package's lazy facade: `from ifan_trt import Deblurrer, Model` imports the Python API on first use
FACADE = {("ifan_trt", "ifan_trt.runtime.images.deblurrer"), ("ifan_trt", "ifan_trt.runtime.images.deblurrer.Deblurrer"),
          ("ifan_trt", "ifan_trt.jobs.model"), ("ifan_trt", "ifan_trt.jobs.model.Model")}
# the executor choice: the one place runtime/ reaches runtime/tensorrt (lazily, inside functions)
EXECUTOR_CHOICE = "ifan_trt.runtime.executors.backends"
# a command imports jobs, core and at most one of these (what crosses two of them is a job)
LOWER = ("export", "calib", "runtime", "tensorrt", "training")
GPU_MODULES = {"tensorrt", "tensorrt_lean", "tensorrt_dispatch", "polygraphy", "cuda", "pycuda", "cupy"}


def floor(module: str) -> str:
    parts = module.split(".")
    if parts[0] != "ifan_trt" or len(parts) == 1:
        return "core"
    if parts[1:3] == ["runtime", "tensorrt"]:
        return "tensorrt"
    return {"export": "export", "calib": "calib", "runtime": "runtime", "training": "training", "jobs": "jobs",
            "commands": "commands", "cli": "commands", "__main__": "commands"}.get(parts[1], "core")


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = SOURCE_DIRS[rel.parts[0]].split(".") + list(rel.parts[1:])
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_files() -> list[Path]:
    return sorted(p for d in SOURCE_DIRS for p in (ROOT / d).rglob("*.py"))


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) for every import in the file, wherever it stands."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            found += [(node.lineno, f"{target}.{a.name}") for a in node.names]  # submodules
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            name = node.args[0].value
            if name.startswith("."):
                name = package + name if not name.startswith("..") else package.rpartition(".")[0] + name[1:]
            found.append((node.lineno, name))
    return found


def _known(module: str) -> bool:
    """True for an ifan_trt module (or package) that exists in the tree: `from pkg import name`
    also yields pkg.name, which is only a module when the file exists."""
    for src, pkg in sorted(SOURCE_DIRS.items(), key=lambda kv: -len(kv[1])):
        if module == pkg or module.startswith(pkg + "."):
            rest = module[len(pkg):].lstrip(".").split(".") if module != pkg else []
            base = ROOT.joinpath(src, *rest)
            return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()
    return False


def violations() -> list[str]:
    bad = []
    for path in source_files():
        here = module_name(path)
        for line, target in imports_of(path):
            where = f"{path.relative_to(ROOT)}:{line}"
            top = target.split(".")[0]
            if top in GPU_MODULES and not here.startswith("ifan_trt.runtime.tensorrt"):
                bad.append(f"{where}: {here} imports {target} (TensorRT/CUDA only in ifan_trt.runtime.tensorrt)")
            if top == "bench" or top == "tests":
                bad.append(f"{where}: {here} imports {target} (product code never imports bench/ or tests/)")
            if top != "ifan_trt" or not _known(target) or (here, target) in FACADE:
                continue
            if floor(here) == "runtime" and floor(target) == "tensorrt" and here == EXECUTOR_CHOICE:
                continue  # the executor choice opens the TensorRT executor
            if floor(target) not in ALLOWED[floor(here)]:
                bad.append(f"{where}: {here} ({floor(here)}) imports {target} ({floor(target)})")
    return bad


def command_reach() -> dict[str, list[str]]:
    """Per command module, the lower floors (export, calib, runtime, tensorrt, training) it imports."""
    reach = {}
    for path in source_files():
        here = module_name(path)
        if not here.startswith("ifan_trt.commands.") or here == "ifan_trt.commands.args":
            continue
        floors = {floor(t) for _, t in imports_of(path) if t.startswith("ifan_trt") and _known(t)}
        reach[here] = sorted(floors & set(LOWER))
    return reach


def test_every_import_goes_down_the_floors():
    assert violations() == []


# commands that still put floors together themselves (jobs to come); the list only shrinks
NOT_YET_JOBS: set[str] = set()


def test_a_command_reaches_at_most_one_floor_below_jobs():
    crossing = {m: f for m, f in command_reach().items() if len(f) > 1}
    assert sorted(set(crossing) - NOT_YET_JOBS) == [], crossing
    assert sorted(NOT_YET_JOBS - set(crossing)) == []  # a command made thin leaves the list


def test_the_scanner_sees_imports_inside_functions_and_importlib(tmp_path):
    # a real file of the tree is parsed; a planted violation must be reported with its line
    probe = ROOT / "ifan_trt" / "_floors_probe.py"
    probe.write_text("def f():\n    from ifan_trt.runtime import tensorrt\n"
                     "import importlib\nimportlib.import_module('ifan_trt.calib.fp16')\n")
    try:
        bad = [v for v in violations() if "_floors_probe" in v]
    finally:
        probe.unlink()
    assert bad == ["ifan_trt/_floors_probe.py:2: ifan_trt._floors_probe (core) imports ifan_trt.runtime (runtime)",
                   "ifan_trt/_floors_probe.py:2: ifan_trt._floors_probe (core) imports ifan_trt.runtime.tensorrt (tensorrt)",
                   "ifan_trt/_floors_probe.py:4: ifan_trt._floors_probe (core) imports ifan_trt.calib.fp16 (calib)"]


@pytest.mark.parametrize("module,expected", [("ifan_trt.model", "core"), ("ifan_trt.export.graph", "export"),
                                             ("ifan_trt.runtime.tensorrt.build", "tensorrt"),
                                             ("ifan_trt.runtime.model_files.sidecar", "runtime"), ("ifan_trt.jobs.engine", "jobs"),
                                             ("ifan_trt.training.train", "training"), ("ifan_trt.cli", "commands"),
                                             ("ifan_trt.__main__", "commands")])
def test_floor_names(module, expected):
    assert floor(module) == expected
