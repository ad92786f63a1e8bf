"""Building libifan_iac_cuda.so with CMake for the tests: once per architecture and session."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
_built: dict[str, Path] = {}


def cmake_and_nvcc() -> tuple[str, str]:
    cmake, nvcc = shutil.which("cmake"), shutil.which("nvcc")
    if cmake is None or nvcc is None:
        pytest.skip("cmake and nvcc (the CUDA toolkit) are needed to build libifan_iac_cuda.so")
    return cmake, nvcc


def configure(build_dir: Path, *options: str) -> dict[str, str]:
    """Configure the project into build_dir as its developers do (warnings are errors); return
    its CMake cache as name -> value."""
    cmake, nvcc = cmake_and_nvcc()
    result = subprocess.run([cmake, "-S", str(REPO), "-B", str(build_dir), f"-DCMAKE_CUDA_COMPILER={nvcc}",
                             "-DIFAN_WERROR=ON", *options], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"cmake configure failed:\n{result.stdout}\n{result.stderr}"
    return read_cache(build_dir)


# where the project's CMakeLists.txt looks for nvcc off PATH (besides CUDA_HOME/bin, CUDA_PATH/bin)
CUDA_FALLBACK_BIN = "/usr/local/cuda/bin"


def configure_as_user(build_dir: Path, *options: str, nvcc: bool, cuda_home: Path | None = None,
                      timeout: int = 300) -> subprocess.CompletedProcess:
    """Configure the project as a user would, without asserting success. nvcc=False hides every
    nvcc (PATH without it, CUDACXX/CUDA_HOME/CUDA_PATH unset, the fallback folder ignored);
    cuda_home: CUDA_HOME for the run (with nvcc hidden from PATH)."""
    cmake = shutil.which("cmake") or pytest.skip("cmake is not on PATH")
    cxx = shutil.which("c++") or shutil.which("g++") or pytest.skip("no C++ compiler on PATH")
    env = {k: v for k, v in os.environ.items() if k not in ("CUDACXX", "CUDA_HOME", "CUDA_PATH", "TensorRT_ROOT")}
    args = [cmake, "-S", str(REPO), "-B", str(build_dir), f"-DCMAKE_CXX_COMPILER={cxx}", *options]
    if not nvcc:
        env["PATH"] = os.pathsep.join(d for d in env.get("PATH", "").split(os.pathsep)
                                      if d and not (Path(d) / "nvcc").exists())
        args.append(f"-DCMAKE_IGNORE_PATH={CUDA_FALLBACK_BIN}")
        if cuda_home is not None:
            env["CUDA_HOME"] = str(cuda_home)
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env)


def read_cache(build_dir: Path) -> dict[str, str]:
    """The CMake cache of build_dir as name -> value."""
    cache = {}
    for line in (build_dir / "CMakeCache.txt").read_text().splitlines():
        if "=" in line and ":" in line.split("=", 1)[0] and not line.startswith(("#", "//")):
            key, value = line.split("=", 1)
            cache[key.split(":", 1)[0]] = value
    return cache


def build_dir_for(arch: str, tmp_path_factory) -> Path:
    """A build folder holding libifan_iac_cuda.so for arch (CMAKE_CUDA_ARCHITECTURES), built
    once per session under pytest's temporary folder: one architecture keeps the build short."""
    if arch not in _built:
        build_dir = tmp_path_factory.mktemp(f"ifan_iac_cuda_{arch}")
        configure(build_dir, f"-DCMAKE_CUDA_ARCHITECTURES={arch}", "-DIFAN_BUILD_PLUGIN=OFF")
        result = subprocess.run([shutil.which("cmake"), "--build", str(build_dir), "--target", "ifan_iac_cuda", "-j2"],
                                capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, f"building ifan_iac_cuda failed:\n{result.stdout}\n{result.stderr}"
        _built[arch] = build_dir
    return _built[arch]


def library_in(build_dir: Path) -> Path:
    return build_dir / "plugins" / "iacPlugin" / "libifan_iac_cuda.so"


@pytest.fixture(scope="session")
def iac_cuda_build_87(tmp_path_factory) -> Path:
    """Build folder of libifan_iac_cuda.so for sm_87 (enough to load it and read its ABI)."""
    return build_dir_for("87", tmp_path_factory)


PLUGIN_DIR = REPO / "plugins" / "iacPlugin"
CPU_TWIN_NAME = "libifan_iac_cpu.so"


def build_cpu_twin(out_dir: Path) -> Path:
    """libifan_iac_cpu.so (the CPU twin of libifan_iac_cuda.so: same C ABI, emulated launches)
    compiled with the C++ compiler as the CMake target ifan_iac_cpu is: no nvcc, no CUDA headers,
    warnings as errors, only ifan_iac_* exported."""
    compiler = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
    if compiler is None:
        pytest.skip("no C++ compiler (g++) on PATH: cannot build the CPU twin of libifan_iac_cuda.so")
    out = out_dir / CPU_TWIN_NAME
    cmd = [compiler, "-std=c++17", "-O2", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared", "-fvisibility=hidden",
           "-fvisibility-inlines-hidden", str(PLUGIN_DIR / "iacCpuApi.cpp"), "-o", str(out),
           f"-Wl,--version-script={PLUGIN_DIR / 'iacCuda.map'}", "-Wl,--no-undefined"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{' '.join(cmd)}\n{result.stderr}"
    return out


@pytest.fixture(scope="session")
def cpu_twin_library(tmp_path_factory) -> Path:
    """Path of libifan_iac_cpu.so, built once per session."""
    return build_cpu_twin(tmp_path_factory.mktemp("ifan_iac_cpu"))
