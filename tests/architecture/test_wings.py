"""The wings of runtime/: sub-packages by concern, whose imports go one way, checked on the source tree.

interface <- model_files <- executors <- images <- measure, demo, serving (side by side; demo
also uses measure's statistics). runtime/ holds no module of its own besides __init__.py, and
runtime/tensorrt, the floor above, uses the four lower wings only. Imports are read
by the floors test's scanner (module level, inside functions, importlib.import_module).
"""

from __future__ import annotations

import re

from .test_floors import ROOT, _known, imports_of, module_name, source_files

RUNTIME = ROOT / "runtime"
RUNTIME_PACKAGE = "ifan_trt.runtime"
# wing -> the wings it may import (itself included), bottom to top
WINGS = {
    "interface": {"interface"},
    "model_files": {"interface", "model_files"},
    "executors": {"interface", "model_files", "executors"},
    "images": {"interface", "model_files", "executors", "images"},
    "measure": {"interface", "model_files", "executors", "images", "measure"},
    "demo": {"interface", "model_files", "executors", "images", "measure", "demo"},
    "serving": {"interface", "model_files", "executors", "images", "serving"},
}
# what runtime/tensorrt may use of runtime: the wings below measure, demo and serving
TENSORRT_USES = {"interface", "model_files", "executors", "images"}


def wing_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[:2] != RUNTIME_PACKAGE.split(".") or len(parts) < 3:
        return None
    return parts[2] if parts[2] in WINGS else None


def wing_violations() -> list[str]:
    bad = []
    for path in sorted(RUNTIME.rglob("*.py")):
        here = module_name(path)
        if here.startswith(f"{RUNTIME_PACKAGE}.tensorrt"):
            allowed, label = TENSORRT_USES, "tensorrt"
        elif wing_of(here):
            allowed, label = WINGS[wing_of(here)], wing_of(here)
        else:
            continue  # runtime/__init__.py; a loose module is reported by loose_modules()
        for line, target in imports_of(path):
            there = wing_of(target)
            if there and _known(target) and there not in allowed:
                bad.append(f"{path.relative_to(ROOT)}:{line}: {here} ({label}) imports {target} ({there})")
    return bad


def loose_modules() -> list[str]:
    return sorted(p.name for p in RUNTIME.glob("*.py") if p.name != "__init__.py")


def test_imports_between_wings_go_one_way():
    assert wing_violations() == []


def test_runtime_has_no_loose_modules():
    assert loose_modules() == []


def test_every_wing_is_a_package_that_says_what_it_is():
    folders = {p.parent.name for p in RUNTIME.glob("*/__init__.py")} - {"tensorrt"}
    assert folders == set(WINGS)
    for wing in WINGS:
        doc = (RUNTIME / wing / "__init__.py").read_text()
        assert re.match(r'"""\S.*"""\n?$', doc, re.S), f"runtime/{wing}/__init__.py: a docstring saying what it is"


def test_the_wings_are_in_order():
    # each wing may import only wings below it: the relation is an order, and the docs list it so
    order = list(WINGS)
    for i, wing in enumerate(order):
        assert WINGS[wing] <= set(order[:i + 1]), wing
        assert wing in WINGS[wing]
    assert TENSORRT_USES <= set(order[:4])


def test_architecture_page_lists_each_wing_with_its_modules():
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    rows = re.findall(r"^\| `runtime/(\w+)/` \| ([^|]*) \|", text, re.M)
    assert [wing for wing, _ in rows] == list(WINGS)
    for wing, modules in rows:
        listed = sorted(re.findall(r"`(\w+)`", modules))
        present = sorted(p.stem for p in (RUNTIME / wing).glob("*.py") if p.name != "__init__.py")
        assert listed == present, wing


def missing_runtime_imports() -> list[str]:
    """Imports of ifan_trt.runtime.* that name no module (the floors scan skips them): a lazy
    `from .pipeline import x` left in a wing that has no pipeline.py fails only when it runs."""
    bad = []
    for path in source_files():
        for line, target in imports_of(path):
            if target.startswith(RUNTIME_PACKAGE) and not (_known(target) or _known(target.rpartition(".")[0])):
                bad.append(f"{path.relative_to(ROOT)}:{line}: {target}")
    return bad


def test_every_runtime_import_names_a_module():
    assert missing_runtime_imports() == []


def test_a_planted_upward_import_and_a_loose_module_are_reported():
    probe = RUNTIME / "interface" / "_wings_probe.py"
    loose = RUNTIME / "_loose_probe.py"
    probe.write_text("def f():\n    from ifan_trt.runtime.images import pipeline\n"
                     "import importlib\nimportlib.import_module('ifan_trt.runtime.serving.serve_protocol')\n"
                     "def g():\n    from .pipeline import Tiling\n")
    loose.write_text("")
    try:
        bad = [v for v in wing_violations() if "_wings_probe" in v]
        stray = loose_modules()
        missing = [m for m in missing_runtime_imports() if "_wings_probe" in m]
    finally:
        probe.unlink()
        loose.unlink()
    where = "runtime/interface/_wings_probe.py"
    here = "ifan_trt.runtime.interface._wings_probe (interface)"
    assert bad == [f"{where}:2: {here} imports ifan_trt.runtime.images (images)",
                   f"{where}:2: {here} imports ifan_trt.runtime.images.pipeline (images)",
                   f"{where}:4: {here} imports ifan_trt.runtime.serving.serve_protocol (serving)"]
    assert stray == ["_loose_probe.py"]
    assert missing == [f"{where}:6: ifan_trt.runtime.interface.pipeline.Tiling"]  # no interface/pipeline.py


def test_wing_names():
    assert [wing_of(m) for m in ("ifan_trt.runtime.images.pipeline", "ifan_trt.runtime.tensorrt.build",
                                 "ifan_trt.runtime", "ifan_trt.export.graph", "ifan_trt.runtime.serving")] == \
        ["images", None, None, None, "serving"]
