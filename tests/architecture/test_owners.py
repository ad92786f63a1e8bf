"""Each name has one owner (docs/ARCHITECTURE.md, "The owner of each fact"), and nothing else
defines or re-derives it: the scans below read every product module's syntax tree."""

from __future__ import annotations

import ast
from pathlib import Path

from ifan_trt.precisions import NAMES as PRECISION_NAMES

from .test_floors import ROOT, imports_of, module_name, source_files

GRAPH = "ifan_trt.export.graph"


def _trees():
    for path in source_files():
        yield path, module_name(path), ast.parse(path.read_text(), str(path))


def _where(path: Path, node) -> str:
    return f"{path.relative_to(ROOT)}:{node.lineno}"


def _is_constant(node, value) -> bool:
    return isinstance(node, ast.Constant) and node.value == value


def onnx_loads() -> list[str]:
    """`onnx.load(...)` / `onnx.load_model(...)` calls (the owner: export/graph.py)."""
    return [_where(p, n) for p, m, tree in _trees() if m != GRAPH for n in ast.walk(tree)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in ("load", "load_model")
            and isinstance(n.func.value, ast.Name) and n.func.value.id == "onnx"]


def default_comparisons() -> list[str]:
    """Comparisons with the word "default" (the owner: ifan_trt/models.py)."""
    bad = []
    for path, module, tree in _trees():
        if module == "ifan_trt.models":
            continue
        for n in ast.walk(tree):
            if isinstance(n, ast.Compare):
                operands = [n.left, *n.comparators]
                for op in operands:
                    items = op.elts if isinstance(op, (ast.Tuple, ast.List, ast.Set)) else [op]
                    if any(_is_constant(i, "default") for i in items):
                        bad.append(_where(path, n))
    return bad


def graph_walks() -> list[str]:
    """Plugin-node lookups, graph-input lists and byte searches done by hand outside export/graph.py:
    a comprehension over graph.node filtered by PLUGIN_OP, over graph.input filtered by the
    initializers, or PLUGIN_OP.encode()."""
    bad = []
    for path, module, tree in _trees():
        if module == GRAPH:
            continue
        for n in ast.walk(tree):
            if isinstance(n, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
                for gen in n.generators:
                    text = ast.unparse(gen)
                    if ".graph.node" in text and "PLUGIN_OP" in text and "==" in text:
                        bad.append(f"{_where(path, n)}: plugin nodes by hand")
                    if ".graph.input" in text and "not in" in text:
                        bad.append(f"{_where(path, n)}: graph inputs by hand")
            if (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "encode"
                    and isinstance(n.func.value, ast.Name) and n.func.value.id == "PLUGIN_OP"):
                bad.append(f"{_where(path, n)}: plugin op searched in bytes")
    return bad


def precision_lists() -> list[str]:
    """Literal tuples, lists or sets of two or more precision names, or the retired spelling
    "cpu-int8" (the owner: ifan_trt/precisions.py)."""
    bad = []
    for path, module, tree in _trees():
        if module == "ifan_trt.precisions":
            continue
        for n in ast.walk(tree):
            if isinstance(n, (ast.Tuple, ast.List, ast.Set)):
                names = [e.value for e in n.elts if isinstance(e, ast.Constant) and e.value in PRECISION_NAMES]
                if len(names) >= 2:
                    bad.append(f"{_where(path, n)}: {names}")
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and "cpu-int8" in n.value:
                bad.append(f"{_where(path, n)}: cpu-int8")
    return bad


def io_names() -> list[str]:
    """The I/O tensor names spelled as literals where a tensor is fed or read: a key of a `feeds`
    dict, a name looked up in a graph's or engine's inputs/outputs, or an argument of an engine or
    session call (the owner: ifan_trt/contract.py's INPUT, OUTPUT, LEFT, RIGHT)."""
    names = {"input", "output", "left", "right"}
    bad = []
    for path, module, tree in _trees():
        if module == "ifan_trt.contract":
            continue
        for n in ast.walk(tree):
            spots = []
            if isinstance(n, ast.Assign) and isinstance(n.value, ast.Dict) and "feeds" in ast.unparse(n.targets[0]):
                spots = n.value.keys
            elif (isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name)
                  and n.value.id in ("inputs", "outputs", "feeds")):
                spots = [n.slice]
            elif isinstance(n, ast.Compare) and isinstance(n.ops[0], (ast.In, ast.NotIn)):
                spots = [n.left]
                spots = spots if any(isinstance(c, ast.Name) and c.id in ("inputs", "outputs") for c in n.comparators) else []
            elif (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                  and n.func.attr in ("get_tensor_shape", "run", "_view", "set_input_shape") and n.args):
                spots = [n.args[0], *(n.args[0].elts if isinstance(n.args[0], ast.List) else [])]
            if any(isinstance(s, ast.Constant) and s.value in names for s in spots if s is not None):
                bad.append(_where(path, n))
    return bad


def test_onnx_is_loaded_only_by_the_graph_toolkit():
    assert onnx_loads() == []


def test_default_is_compared_only_by_the_model_reference():
    assert default_comparisons() == []


def test_graph_lookups_go_through_the_graph_toolkit():
    assert graph_walks() == []


def test_precision_names_come_from_the_table():
    assert precision_lists() == []


def test_io_names_come_from_the_contract():
    assert io_names() == []


def test_the_scans_find_what_they_look_for():
    # planted in a real file of the tree: each scan reports its line
    probe = ROOT / "ifan_trt" / "_owners_probe.py"
    probe.write_text("import onnx\nm = onnx.load('x')\nok = str(m) == 'default'\n"
                     "p = [n for n in m.graph.node if n.op_type == PLUGIN_OP]\n"
                     "i = [v for v in m.graph.input if v.name not in inits]\n"
                     "P = ('fp16', 'int8')\nq = 'cpu-int8'\nfeeds = {'input': 1}\nprint('x', file=sys.stderr)\n"
                     "from tqdm import tqdm\n")
    try:
        found = {scan.__name__: [v for v in scan() if "_owners_probe" in v]
                 for scan in (onnx_loads, default_comparisons, graph_walks, precision_lists, io_names, stderr_prints,
                                 tqdm_imports)}
    finally:
        probe.unlink()
    assert found == {"onnx_loads": ["ifan_trt/_owners_probe.py:2"],
                     "default_comparisons": ["ifan_trt/_owners_probe.py:3"],
                     "graph_walks": ["ifan_trt/_owners_probe.py:4: plugin nodes by hand",
                                     "ifan_trt/_owners_probe.py:5: graph inputs by hand"],
                     "precision_lists": ["ifan_trt/_owners_probe.py:6: ['fp16', 'int8']",
                                         "ifan_trt/_owners_probe.py:7: cpu-int8"],
                     "io_names": ["ifan_trt/_owners_probe.py:8"],
                     "stderr_prints": ["ifan_trt/_owners_probe.py:9"],
                     "tqdm_imports": ["ifan_trt/_owners_probe.py:10"]}


def stderr_prints() -> list[str]:
    """print(..., file=sys.stderr) or sys.stderr.write outside the command floor (the owner of what
    reaches the terminal: ifan_trt/cli.py and ifan_trt/commands/; library code logs). Standard
    output stays free: a child process's answer (runtime/tensorrt/inspect.py) and `--json -` use it."""
    bad = []
    for path, module, tree in _trees():
        if module.startswith(("ifan_trt.commands", "ifan_trt.cli", "ifan_trt.__main__")):
            continue
        for n in ast.walk(tree):
            if not isinstance(n, ast.Call):
                continue
            text = ast.unparse(n.func)
            if text == "print" and any(k.arg == "file" and ast.unparse(k.value) == "sys.stderr" for k in n.keywords):
                bad.append(_where(path, n))
            elif text == "sys.stderr.write":
                bad.append(_where(path, n))
    return bad


def test_library_code_logs_instead_of_printing_to_stderr():
    assert stderr_prints() == []


def tqdm_imports() -> list[str]:
    """tqdm imported outside the command floor (the owner of what is drawn on the terminal:
    ifan_trt/commands/progress.py hands it to library code as `progress`, ifan_trt/progress.py)."""
    return sorted({f"{path.relative_to(ROOT)}:{line}" for path in source_files()
                   if not module_name(path).startswith(("ifan_trt.commands", "ifan_trt.cli"))
                   for line, name in imports_of(path) if name.split(".")[0] == "tqdm"})


def test_library_code_draws_progress_only_when_given_bars():
    assert tqdm_imports() == []


# a name docs/ARCHITECTURE.md gives one owner -> the owner module (the only one that defines it)
OWNED = {"engines_unavailable": "ifan_trt.runtime.executors.backends", "bar": "ifan_trt.progress",
         "backend_boundary": "ifan_trt.runtime.interface.executor", "bgr_to_rgb_float": "ifan_trt.runtime.images.pipeline",
         "rgb_float_to_bgr": "ifan_trt.runtime.images.pipeline", "FrameFlow": "ifan_trt.runtime.images.frames",
         "BenchmarkRequest": "ifan_trt.runtime.measure.benchmark"}


def definitions(names) -> dict[str, list[str]]:
    """name -> the modules that define it (def, class or a module-level assignment)."""
    found = {name: [] for name in names}
    for _, module, tree in _trees():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name in found:
                found[node.name].append(module)
        for node in tree.body:
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name) and target.id in found:
                        found[target.id].append(module)
    return found


def test_each_named_owner_is_the_only_definer():
    assert definitions(OWNED) == {name: [owner] for name, owner in OWNED.items()}


def test_the_architecture_page_names_each_owner():
    page = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    for name, owner in OWNED.items():
        path = owner.removeprefix("ifan_trt.").replace(".", "/") + ".py"  # runtime's wings are its sub-folders
        path = path if path.startswith("runtime/") else f"ifan_trt/{path}"
        rows = [line for line in page.splitlines() if line.startswith("|") and f"`{path}`" in line]
        assert any(f"`{name}`" in row for row in rows), f"no owner row names `{name}` with `{path}`"
