"""The CPU emulation of the IAC kernel (plugins/iacPlugin/iacEmulate.cpp), compiled with g++
into a temporary folder and called through ctypes; the `emulator` fixture (import it into the
test modules that use it).

Set IFAN_IAC_REFERENCE_LIB to a prebuilt library (CMake target ifan_iac_reference) to skip the
compile."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
PLUGIN_DIR = REPO / "plugins" / "iacPlugin"


class IacEmulator:
    """ifan_iac_emulate: the kernel's plan and tile phases run over blocks and threads on the CPU."""

    def __init__(self, path: Path):
        self.path = path
        lib = ctypes.CDLL(str(path))
        f32p = ctypes.POINTER(ctypes.c_float)
        i32 = ctypes.c_int32
        lib.ifan_iac_emulate.argtypes = [f32p, f32p, f32p] + [i32] * 8 + [ctypes.c_float, i32, i32,
                                                                          ctypes.POINTER(ctypes.c_char_p)]
        lib.ifan_iac_emulate.restype = ctypes.c_int
        lib.ifan_iac_plan.argtypes = [i32] * 7 + [ctypes.POINTER(ctypes.c_int64)]
        lib.ifan_iac_plan.restype = None
        lib.ifan_iac_round_half.argtypes = [f32p, f32p, ctypes.c_int64]
        lib.ifan_iac_round_half.restype = None
        self.lib = lib

    @staticmethod
    def _ptr(a: np.ndarray):
        return a.ctypes.data_as(ctypes.POINTER(ctypes.c_float))

    def iac(self, x, filters, n_iters, k, mode, layout, slope, half=False, vectorise=True):
        x = np.ascontiguousarray(x, dtype=np.float32)
        filters = np.ascontiguousarray(filters, dtype=np.float32)
        out = np.full_like(x, np.nan)
        b, c, h, w = x.shape
        error = ctypes.c_char_p()
        status = self.lib.ifan_iac_emulate(self._ptr(x), self._ptr(filters), self._ptr(out), b, c, h, w,
                                           n_iters, k, mode, layout, slope, int(half), int(vectorise),
                                           ctypes.byref(error))
        if status != 0:
            raise ValueError(error.value.decode())
        return out

    def plan(self, b, c, h, w, n_iters, k, vectorise=True) -> dict[str, int]:
        fields = (ctypes.c_int64 * 8)()
        self.lib.ifan_iac_plan(b, c, h, w, n_iters, k, int(vectorise), fields)
        names = ("vec", "groups", "rows", "halo", "tiles_x", "tiles_y", "smem_cols", "smem_bytes")
        return dict(zip(names, list(fields)))

    def round_half(self, values: np.ndarray) -> np.ndarray:
        values = np.ascontiguousarray(values, dtype=np.float32)
        out = np.empty_like(values)
        self.lib.ifan_iac_round_half(self._ptr(values), self._ptr(out), values.size)
        return out


def build_reference_library(out_dir: Path) -> Path:
    """g++ the emulation into out_dir (the same flags as the CMake target, warnings as errors)."""
    compiler = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
    if compiler is None:
        pytest.skip("no C++ compiler (g++) on PATH: cannot build the IAC CPU reference")
    out = out_dir / "libifan_iac_reference.so"
    cmd = [compiler, "-std=c++17", "-O2", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared",
           "-fvisibility=hidden", str(PLUGIN_DIR / "iacEmulate.cpp"), "-o", str(out)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(cmd)}\n{result.stderr}"
    return out


@pytest.fixture(scope="session")
def emulator(tmp_path_factory) -> IacEmulator:
    prebuilt = os.environ.get("IFAN_IAC_REFERENCE_LIB")
    if prebuilt:
        return IacEmulator(Path(prebuilt))
    return IacEmulator(build_reference_library(tmp_path_factory.mktemp("iac_reference")))
