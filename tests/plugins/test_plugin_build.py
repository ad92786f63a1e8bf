"""The plugin's sources compile: the CUDA kernels with nvcc (sm_87, and sm_72 where this nvcc
still supports it), the TensorRT glue with warnings as errors against every TensorRT include
folder listed in TENSORRT_INCLUDE_DIRS (os.pathsep-separated), and the linked library exports
only getCreators and setLoggerFinder. CMake's default CUDA architectures (real code for each
wanted one this nvcc lists, PTX of the oldest) and libifan_iac_cuda.so's exports (ifan_iac_*
only). Each part skips with its reason when its tools are missing."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers.cuda_library import cmake_and_nvcc, configure, iac_cuda_build_87, library_in, read_cache  # noqa: F401 (fixture)
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


@pytest.mark.parametrize("arch", ["sm_87", "sm_100", "sm_120", "sm_72"])
def test_nvcc_compiles_kernels(tmp_path, arch):
    compiler = nvcc()
    if f"compute_{arch[3:]}" not in supported_archs(compiler):
        pytest.skip(f"this nvcc cannot target {arch} (CUDA 13 dropped sm_72, CUDA 12.6 predates sm_100/sm_120)")
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



def test_profile_max_over_grid_limit_fails_configure(tmp_path):
    """configurePlugin checks B*C <= 65535 against the profile's max (the build fails, not the
    first inference) and says why through TensorRT's logger; exactly at the limit it passes."""
    compiler = nvcc()
    cuda = cuda_include()
    kernel = tmp_path / "iacKernel.o"
    run([compiler, "-std=c++17", "-O1", "-arch=sm_87", *NVCC_WARNINGS, "-c", "iacKernel.cu", "-o", str(kernel)])
    for i, include in enumerate(tensorrt_include_dirs()):
        objects = []
        for source in [*GLUE, str(Path(__file__).with_name("configure_harness.cpp"))]:
            obj = tmp_path / f"{i}_{Path(source).stem}.o"
            run(["g++", "-std=c++17", "-O1", *WARNINGS, "-isystem", str(include), "-isystem", str(cuda),
                 "-I", str(PLUGIN_DIR), "-c", source, "-o", str(obj)])
            objects.append(str(obj))
        harness = tmp_path / f"harness_{i}"
        run([compiler, "-arch=sm_87", "-o", str(harness), str(kernel), *objects])
        for max_batch, ok in ((511, True), (512, False)):  # 511 * 128 = 65408, 512 * 128 = 65536
            result = subprocess.run([str(harness), "128", str(max_batch)], capture_output=True, text=True, timeout=60)
            assert result.returncode == 0, result.stderr
            assert ("RC 0" in result.stdout) is ok and ("RC -1" in result.stdout) is not ok, result.stdout
            logged = [line for line in result.stdout.splitlines() if line.startswith("LOG 1 ")]  # kERROR
            if ok:
                assert logged == [], result.stdout
            else:
                assert len(logged) == 1 and "batch x channels of [512, 128, 8, 8] exceeds 65535" in logged[0], logged

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


WANTED_ARCHS = [75, 80, 86, 87, 89, 90, 100, 103, 110, 120]  # cmake/IfanCudaArchitectures.cmake
CUDA_ABI = ["ifan_iac_abi_version", "ifan_iac_error_name", "ifan_iac_run_float", "ifan_iac_run_half",
            "ifan_iac_workspace_bytes"]


def default_archs_for(nvcc_list: str, tmp_path: Path) -> list[str]:
    """What cmake/IfanCudaArchitectures.cmake picks for an nvcc that prints nvcc_list."""
    cmake, _ = cmake_and_nvcc()
    script = tmp_path / "archs.cmake"
    script.write_text(f'include("{REPO / "cmake" / "IfanCudaArchitectures.cmake"}")\n'
                      f'ifan_default_cuda_architectures("{nvcc_list}" archs)\nmessage("ARCHS=${{archs}}")\n')
    result = subprocess.run([cmake, "-P", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stderr.strip().split("ARCHS=", 1)[1].split(";")


@pytest.mark.parametrize("toolkit, listed, expected", [
    # CUDA 12.6 (JetPack 6): still lists Xavier's 72, knows nothing newer than Hopper
    ("12.6", "compute_50 compute_52 compute_60 compute_70 compute_72 compute_75 compute_80 compute_86 compute_87 "
             "compute_89 compute_90", ["75-real", "80-real", "86-real", "87-real", "89-real", "90-real", "75-virtual"]),
    # CUDA 13.0: dropped 72, lists the Blackwell datacenter (100, 103), Thor (110) and desktop (120)
    ("13.0", "compute_75 compute_80 compute_86 compute_87 compute_88 compute_89 compute_90 compute_100 compute_110 "
             "compute_103 compute_120 compute_121",
     ["75-real", "80-real", "86-real", "87-real", "89-real", "90-real", "100-real", "103-real", "110-real",
      "120-real", "75-virtual"]),
])
def test_default_architectures_per_toolkit(tmp_path, toolkit, listed, expected):
    """Real code for every wanted architecture the toolkit lists, never 72 (no TensorRT 10 on
    Xavier), and exactly one PTX: the oldest's, which every newer GPU can JIT-compile."""
    assert default_archs_for(listed, tmp_path) == expected, toolkit


def test_configured_default_architectures(tmp_path):
    """Configuring with this nvcc gives the list its --list-gpu-arch implies."""
    _, compiler = cmake_and_nvcc()
    listed = {int(a) for a in re.findall(r"compute_(\d+)", supported_archs(compiler))}
    cache = configure(tmp_path / "build", "-DIFAN_BUILD_PLUGIN=OFF")
    archs = cache["CMAKE_CUDA_ARCHITECTURES"].split(";")
    real = [int(a.split("-")[0]) for a in archs if a.endswith("-real")]
    virtual = [a for a in archs if not a.endswith("-real")]
    assert real == [a for a in WANTED_ARCHS if a in listed] and 72 not in real, archs
    assert virtual == [f"{min(real)}-virtual"], archs


def test_user_architectures_override(iac_cuda_build_87):
    """-DCMAKE_CUDA_ARCHITECTURES wins over the defaults (the fixture configured with 87)."""
    assert read_cache(iac_cuda_build_87)["CMAKE_CUDA_ARCHITECTURES"] == "87"


def test_cuda_library_exports_only_its_abi(iac_cuda_build_87):
    """libifan_iac_cuda.so (built without TensorRT) exports the ifan_iac_* C ABI and nothing else."""
    nm = shutil.which("nm") or pytest.skip("no nm (binutils)")
    result = subprocess.run([nm, "-D", "--defined-only", str(library_in(iac_cuda_build_87))],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    exported = sorted(line.split()[-1] for line in result.stdout.splitlines() if line.strip())
    assert exported == CUDA_ABI
