"""The C++ plugin and ifan_trt.contract state the same contract: name, version, namespace,
fields and their types, mode/layout codes, and the filter-channel arithmetic (computed by
iacMath.h itself, compiled with the host compiler, against the contract's functions)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ifan_trt import contract

PLUGIN_DIR = Path(__file__).resolve().parents[2] / "plugins" / "iacPlugin"


def test_name_version_namespace_and_fields():
    header = (PLUGIN_DIR / "iacPlugin.h").read_text()
    source = (PLUGIN_DIR / "iacPlugin.cpp").read_text()
    assert re.search(r'kPLUGIN_NAME\s*=\s*"([^"]*)"', header).group(1) == contract.PLUGIN_OP
    assert re.search(r'kPLUGIN_VERSION\s*=\s*"([^"]*)"', header).group(1) == contract.PLUGIN_VERSION
    namespaces = re.findall(r'getPluginNamespace\(\) const noexcept\s*\{\s*return "([^"]*)";', source)
    assert namespaces == [contract.PLUGIN_NAMESPACE] * 2
    # the creator's declared fields, in order, with ONNX's attribute types (INT -> kINT32, FLOAT -> kFLOAT32)
    declared = re.findall(r'mFieldNames\.emplace_back\("(\w+)", nullptr, PluginFieldType::(\w+)', source)
    assert [n for n, _ in declared] == list(contract.PLUGIN_FIELDS)
    assert dict(declared) == {"N": "kINT32", "k": "kINT32", "mode": "kINT32", "layout": "kINT32", "slope": "kFLOAT32"}


def test_mode_and_layout_codes():
    math = (PLUGIN_DIR / "iacMath.h").read_text()
    codes = {name: int(v) for name, v in re.findall(r"k(MODE_\w+|LAYOUT_\w+)\s*=\s*(\d+)", math)}
    assert {m: codes[f"MODE_{m.upper()}"] for m in contract.MODES} == contract.MODE_CODES
    assert {lay: codes[f"LAYOUT_{lay.upper()}"] for lay in contract.LAYOUTS} == contract.LAYOUT_CODES


PROBE = r"""
#include "iacMath.h"
#include <cstdio>
using namespace ifan::iac;
int main() {
    int const cases[][3] = {{1, 1, 1}, {2, 3, 3}, {3, 5, 5}, {17, 4, 3}};
    for (auto const& c : cases) for (int mode = 0; mode < 2; ++mode) for (int layout = 0; layout < 2; ++layout) {
        if (mode == 1 && layout == 1) continue;
        Problem p{}; p.B = 1; p.C = c[1]; p.H = 1; p.W = 1; p.N = c[0]; p.k = c[2]; p.mode = mode; p.layout = layout;
        std::printf("F %d %d %d %d %lld\n", p.N, p.C, p.k, layout, (long long) filterChannels(p.N, p.C, p.k, layout));
        for (int i = 0; i < p.N; ++i)
            std::printf("I %d %d %d %d %d %d %lld %lld %lld\n", i, p.N, p.C, p.k, mode, layout,
                        (long long) kernelChannel(p, i, 0, 0, false), (long long) kernelChannel(p, i, 0, 0, true),
                        (long long) biasChannel(p, i, 0));
    }
}
"""


def _probe_output(tmp_path, source: str) -> list[str]:
    """Compile a probe of iacMath.h with the host compiler and return the lines it prints."""
    cxx = shutil.which("g++") or shutil.which("c++")
    if cxx is None:
        pytest.skip("no C++ compiler (g++) to build the iacMath.h probe")
    src, exe = tmp_path / "probe.cpp", tmp_path / "probe"
    src.write_text(source)
    subprocess.run([cxx, "-std=c++17", "-O0", f"-I{PLUGIN_DIR}", str(src), "-o", str(exe)], check=True, timeout=120)
    return subprocess.run([str(exe)], capture_output=True, text=True, check=True, timeout=30).stdout.splitlines()


def test_channel_arithmetic_matches_the_kernel(tmp_path):
    lines = _probe_output(tmp_path, PROBE)
    checked = 0
    for line in lines:
        kind, *vals = line.split()
        vals = [int(v) for v in vals]
        if kind == "F":
            n, c, k, layout, channels = vals
            assert contract.filter_channels(n, c, k, layout) == channels, line
        else:
            i, n, c, k, mode, layout, v, h, b = vals
            assert contract.iteration_channels(i, n, c, k, mode, layout) == (v, h, b), line
        checked += 1
    assert checked > 30


PROBLEM_PROBE = r"""
#include "iacMath.h"
#include <cstdio>
using namespace ifan::iac;
int main() {
    for (int n = -1; n < 3; ++n) for (int k = 0; k < 10; ++k) for (int mode = -1; mode < 3; ++mode)
        for (int layout = -1; layout < 3; ++layout) {
            Problem p{}; p.B = 1; p.C = 2; p.H = 3; p.W = 3; p.N = n; p.k = k; p.mode = mode; p.layout = layout;
            char const* why = problemError(p);
            std::printf("%d %d %d %d %s\n", n, k, mode, layout, why ? why : "-");
        }
}
"""


def test_problem_checks_match_the_kernel(tmp_path):
    """contract.iac_problem_error gives the plugin's own message for every bad attribute set."""
    lines = _probe_output(tmp_path, PROBLEM_PROBE)
    errors = 0
    for line in lines:
        n, k, mode, layout, why = line.split(" ", 4)
        n, k, mode, layout = int(n), int(k), int(mode), int(layout)
        channels = contract.filter_channels(n, 2, k, layout) if why == "-" else 1
        got = contract.iac_problem_error((1, 2, 3, 3), (1, channels, 3, 3), n, k, mode, layout)
        assert got == (None if why == "-" else why), line
        errors += why != "-"
    assert len(lines) == 4 * 10 * 4 * 4 and 0 < errors < len(lines)
