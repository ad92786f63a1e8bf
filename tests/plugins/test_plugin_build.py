"""The plugin's sources compile: the CUDA kernels with nvcc (sm_87, and sm_72 where this nvcc
still supports it), the TensorRT glue with warnings as errors against every TensorRT include
folder listed in TENSORRT_INCLUDE_DIRS (os.pathsep-separated), and the linked library exports
only getCreators and setLoggerFinder. Each part skips with its reason when its tools are missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ifan_trt.runtime.tensorrt.plugin_library import built_for

REPO = Path(__file__).resolve().parents[2]
PLUGIN_DIR = REPO / "plugins" / "iacPlugin"
GLUE = ["iacPlugin.cpp", "iacPluginLibrary.cpp"]
WARNINGS = ["-Wall", "-Wextra", "-Werror"]
NVCC_WARNINGS = ["-Xcompiler=-Wall,-Wextra,-Werror", "--Werror=all-warnings", "-Wno-deprecated-gpu-targets"]


def nvcc() -> str:
    path = shutil.which("nvcc") or shutil.which("/usr/local/cuda/bin/nvcc")
    if path is None:
        pytest.skip("nvcc is not on PATH: install the CUDA toolkit to compile the IAC kernels")
    return path


def cuda_include() -> Path:
    candidates = [os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH")]
    which = shutil.which("nvcc")
    if which:
        candidates.append(str(Path(which).resolve().parent.parent))
    candidates.append("/usr/local/cuda")
    for root in filter(None, candidates):
        if (Path(root) / "include" / "cuda_runtime_api.h").is_file():
            return Path(root) / "include"
    pytest.skip("cuda_runtime_api.h not found (set CUDA_HOME): the plugin glue includes it")


def tensorrt_include_dirs() -> list[Path]:
    value = os.environ.get("TENSORRT_INCLUDE_DIRS", "")
    dirs = [Path(d) for d in value.split(os.pathsep) if d]
    if not dirs:
        pytest.skip("TENSORRT_INCLUDE_DIRS is not set (e.g. the include/ folders of TensorRT 10.3 and 11.x, "
                    "separated by ':'): the glue compile check needs TensorRT headers")
    for d in dirs:
        assert (d / "NvInferRuntime.h").is_file(), f"{d}: no NvInferRuntime.h"
    return dirs


def run(cmd: list[str], cwd: Path = PLUGIN_DIR) -> None:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(cmd)}\n{result.stdout}\n{result.stderr}"


def supported_archs(compiler: str) -> str:
    return subprocess.run([compiler, "--list-gpu-arch"], capture_output=True, text=True).stdout


@pytest.mark.parametrize("arch", ["sm_87", "sm_72"])
def test_nvcc_compiles_kernels(tmp_path, arch):
    compiler = nvcc()
    if f"compute_{arch[3:]}" not in supported_archs(compiler):
        pytest.skip(f"this nvcc cannot target {arch} (CUDA 13 dropped sm_72; Xavier builds need CUDA 12.x)")
    run([compiler, "-std=c++17", "-O3", f"-arch={arch}", *NVCC_WARNINGS, "-c", "iacKernel.cu",
         "-o", str(tmp_path / f"iacKernel_{arch}.o")])


@pytest.mark.parametrize("source", GLUE)
def test_glue_compiles_against_tensorrt_headers(source):
    compiler = shutil.which("g++") or pytest.skip("no g++")
    cuda = cuda_include()
    for include in tensorrt_include_dirs():
        run([compiler, "-std=c++17", *WARNINGS, "-fsyntax-only", "-isystem", str(include), "-isystem", str(cuda),
             source])


def test_library_exports_only_entry_points(tmp_path):
    """Link the plugin as CMake does (hidden visibility + version script) for each header set."""
    compiler = nvcc()
    cuda = cuda_include()
    nm = shutil.which("nm") or pytest.skip("no nm (binutils)")
    arch = "sm_87"
    kernel = tmp_path / "iacKernel.o"
    run([compiler, "-std=c++17", "-O3", f"-arch={arch}", *NVCC_WARNINGS, "-Xcompiler=-fPIC,-fvisibility=hidden",
         "-c", "iacKernel.cu", "-o", str(kernel)])
    for i, include in enumerate(tensorrt_include_dirs()):
        objects = []
        for source in GLUE:
            obj = tmp_path / f"{i}_{source}.o"
            run(["g++", "-std=c++17", "-O2", *WARNINGS, "-fPIC", "-fvisibility=hidden", "-fvisibility-inlines-hidden",
                 "-isystem", str(include), "-isystem", str(cuda), "-c", source, "-o", str(obj)])
            objects.append(str(obj))
        library = tmp_path / f"libifan_iac_plugin_{i}.so"
        run([compiler, "-shared", f"-arch={arch}", "-o", str(library), str(kernel), *objects,
             f"-Xlinker=--version-script={PLUGIN_DIR / 'iacPlugin.map'}", "-Xlinker=--no-undefined", "-cudart=shared"])
        result = subprocess.run([nm, "-D", "--defined-only", str(library)], capture_output=True, text=True)
        exported = sorted(line.split()[-1] for line in result.stdout.splitlines() if line.strip())
        assert exported == ["getCreators", "setLoggerFinder"], exported
        version = (include / "NvInferVersion.h").read_text()
        assert built_for(library) is not None and f" {built_for(library)[0]}" in version


def test_sm72_with_cuda12_toolchain(tmp_path):
    """Xavier (sm_72) needs CUDA 12.x, whose nvcc is not a PyPI wheel: compile the device code with
    clang against a CUDA 12 tree (IFAN_CUDA12_ROOT: include/ with the runtime, crt, curand and CCCL
    headers, bin/ptxas, nvvm/libdevice; README.md of the plugin says how to assemble it from the
    nvidia-*-cu12 wheels) and assemble it with CUDA 12's ptxas."""
    root = os.environ.get("IFAN_CUDA12_ROOT")
    clang = shutil.which(os.environ.get("IFAN_CUDA_CLANG", "clang++-19")) or shutil.which("clang++")
    if not root or clang is None:
        pytest.skip("IFAN_CUDA12_ROOT (a CUDA 12 tree) and clang++ are needed for the sm_72 check")
    ptx = tmp_path / "iacKernel_sm_72.ptx"
    run([clang, "-x", "cuda", f"--cuda-path={root}", "--cuda-gpu-arch=sm_72", "--cuda-device-only", "-S",
         "-std=c++17", "-O3", *WARNINGS, "-Wno-unknown-cuda-version", "iacKernel.cu", "-o", str(ptx)])
    run([str(Path(root) / "bin" / "ptxas"), "-arch=sm_72", "-O3", str(ptx), "-o", str(tmp_path / "iac.cubin")])
