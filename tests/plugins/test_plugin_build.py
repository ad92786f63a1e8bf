"""The plugin's sources compile: the CUDA kernels with nvcc (sm_87, and sm_72 where this nvcc
still supports it), the TensorRT glue with warnings as errors against every TensorRT include
folder listed in TENSORRT_INCLUDE_DIRS (os.pathsep-separated), and the linked library exports
only getCreators and setLoggerFinder. CMake's default CUDA architectures (real code for each
wanted one this nvcc lists, PTX of the oldest) and libifan_iac_cuda.so's exports (ifan_iac_*
only). What configuring does for a user: the plugin asked for (the default) and impossible fails
naming what is missing; -Werror only with IFAN_WERROR; the plugin links the shared CUDA runtime.
Each part skips with its reason when its tools are missing."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers.cuda_library import (cmake_and_nvcc, configure, configure_as_user, iac_cuda_build_87,  # noqa: F401 (fixture)
                                        library_in, read_cache)
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


# ---- configuring as a user: what is built, what fails, with which flags ---------------------------

def fake_tensorrt(root: Path, version=(10, 3, 0), library: str | None = None) -> Path:
    """A TensorRT folder as FindTensorRT sees it: include/NvInferVersion.h of version (the real
    10.x spelling) and, when named, an (empty) lib/<library>. Enough to configure, not to build."""
    (root / "include").mkdir(parents=True)
    (root / "include" / "NvInferVersion.h").write_text(
        "".join(f"#define NV_TENSORRT_{part} {value}\n" for part, value in zip(("MAJOR", "MINOR", "PATCH"), version)))
    if library:
        (root / "lib").mkdir()
        (root / "lib" / library).write_bytes(b"")
    return root


def cmake_error(result: subprocess.CompletedProcess) -> str:
    """CMake's error text with its line wrapping undone."""
    assert result.returncode != 0, f"configure succeeded:\n{result.stdout}\n{result.stderr}"
    return " ".join(result.stderr.split())


def flags_of(build_dir: Path, target: str) -> str:
    return (build_dir / "plugins" / "iacPlugin" / "CMakeFiles" / f"{target}.dir" / "flags.make").read_text()


def test_plugin_asked_for_without_headers_or_nvcc_fails_naming_both(tmp_path):
    """The default (IFAN_BUILD_PLUGIN=ON) on a machine with neither: non-zero, both named, with
    where TensorRT was looked for and where headers come from (pip's wheels have none)."""
    empty = tmp_path / "no-tensorrt"
    empty.mkdir()
    error = cmake_error(configure_as_user(tmp_path / "build", f"-DTensorRT_ROOT={empty}", nvcc=False))
    assert "the TensorRT plugin cannot be built (IFAN_BUILD_PLUGIN=ON), missing:" in error, error
    assert f"TensorRT headers: no NvInferVersion.h in TensorRT_ROOT={empty}" in error, error
    assert "pip's TensorRT wheels ship no headers" in error and "-DTensorRT_ROOT=" in error, error
    assert "nvcc: not on PATH" in error and "-DCMAKE_CUDA_COMPILER=" in error, error
    assert "-DIFAN_BUILD_PLUGIN=AUTO" in error, error


def test_plugin_asked_for_without_nvcc_fails_naming_nvcc(tmp_path):
    root = fake_tensorrt(tmp_path / "trt")
    error = cmake_error(configure_as_user(tmp_path / "build", f"-DTensorRT_ROOT={root}", nvcc=False))
    assert "- nvcc: not on PATH, nor in CUDA_HOME/bin, CUDA_PATH/bin or /usr/local/cuda/bin" in error, error
    assert "TensorRT headers" not in error, error


def test_pip_libraries_without_headers_are_named(tmp_path):
    """TensorRT_ROOT at a pip wheel's library folder: libnvinfer.so.10 but no headers."""
    root = tmp_path / "tensorrt_libs"
    root.mkdir()
    (root / "libnvinfer.so.10").write_bytes(b"")
    error = cmake_error(configure_as_user(tmp_path / "build", f"-DTensorRT_ROOT={root}", nvcc=False))
    assert f"(libnvinfer was found, at {root / 'libnvinfer.so.10'}, but not its headers)" in error, error


def test_libnvinfer_of_another_major_version_fails(tmp_path):
    root = fake_tensorrt(tmp_path / "trt", (10, 3, 0), library="libnvinfer.so.11")
    error = cmake_error(configure_as_user(tmp_path / "build", f"-DTensorRT_ROOT={root}", nvcc=False))
    assert (f"libnvinfer of TensorRT 10: {root / 'lib' / 'libnvinfer.so.11'} is TensorRT 11, the headers in "
            f"{root / 'include'} are 10.3.0") in error, error


@pytest.mark.parametrize("request_", ["AUTO", "OFF"])
def test_plugin_not_asked_for_configures_the_rest(tmp_path, request_):
    """AUTO and OFF configure without TensorRT and nvcc (exit 0) and keep the CPU reference;
    AUTO warns with what is missing, OFF does not look."""
    empty = tmp_path / "no-tensorrt"
    empty.mkdir()
    result = configure_as_user(tmp_path / "build", f"-DTensorRT_ROOT={empty}", f"-DIFAN_BUILD_PLUGIN={request_}",
                               nvcc=False)
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stderr.split())
    assert ("IFAN_BUILD_PLUGIN=AUTO: no TensorRT plugin, missing:" in text and "TensorRT headers" in text
            and "nvcc" in text) is (request_ == "AUTO"), text
    assert (tmp_path / "build" / "plugins" / "iacPlugin" / "CMakeFiles" / "ifan_iac_reference.dir").is_dir()


def test_bad_plugin_request_is_refused(tmp_path):
    error = cmake_error(configure_as_user(tmp_path / "build", "-DIFAN_BUILD_PLUGIN=maybe", nvcc=False))
    assert "IFAN_BUILD_PLUGIN=maybe: use ON, AUTO or OFF" in error, error


@pytest.mark.parametrize("werror", [None, "ON"])
def test_warnings_are_errors_only_in_the_developer_option(tmp_path, werror):
    """A user's build warns (-Wall -Wextra) but a new compiler's new warning never fails it."""
    options = ["-DIFAN_BUILD_PLUGIN=OFF"] + ([f"-DIFAN_WERROR={werror}"] if werror else [])
    result = configure_as_user(tmp_path / "build", *options, nvcc=False)
    assert result.returncode == 0, result.stderr
    flags = flags_of(tmp_path / "build", "ifan_iac_reference")
    assert "-Wall -Wextra" in flags, flags
    assert ("-Werror" in flags) is (werror == "ON"), flags


def nvcc_in(folder: Path) -> Path:
    """folder/bin/nvcc: a wrapper of this machine's nvcc (nvcc finds its toolkit from its own
    location, so a symlink would not do)."""
    real = shutil.which("nvcc") or pytest.skip("nvcc is not on PATH: install the CUDA toolkit")
    (folder / "bin").mkdir(parents=True)
    wrapper = folder / "bin" / "nvcc"
    wrapper.write_text(f'#!/bin/sh\nexec "{real}" "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def test_user_plugin_build_links_shared_cuda_runtime_without_werror(tmp_path):
    """With TensorRT headers and nvcc off PATH (CUDA_HOME, as on JetPack): the plugin is
    configured with that nvcc, links libcudart.so and no static runtime, and nvcc gets no
    -Werror; the developer option turns it on for the CUDA library (the tests' own build)."""
    root = fake_tensorrt(tmp_path / "trt", (10, 3, 0))
    wrapper = nvcc_in(tmp_path / "cuda")
    build = tmp_path / "build"
    result = configure_as_user(build, f"-DTensorRT_ROOT={root}", "-DCMAKE_CUDA_ARCHITECTURES=87", nvcc=False,
                               cuda_home=tmp_path / "cuda")
    assert result.returncode == 0, result.stderr
    assert read_cache(build)["CMAKE_CUDA_COMPILER"] == str(wrapper)
    assert f"nvcc is not on PATH; using {wrapper}" in result.stdout
    link = (build / "plugins" / "iacPlugin" / "CMakeFiles" / "ifan_iac_plugin.dir" / "link.txt").read_text()
    assert "cudart_static" not in link and re.search(r"libcudart\.so|-lcudart\b", link), link
    for target in ("ifan_iac_plugin", "ifan_iac_cuda"):
        flags = flags_of(build, target)
        assert "-Wall,-Wextra" in flags and "Werror" not in flags, flags


def test_developer_build_has_warnings_as_errors(iac_cuda_build_87):
    """The tests' own build (IFAN_WERROR=ON) fails on any host or device warning."""
    flags = flags_of(iac_cuda_build_87, "ifan_iac_cuda")
    assert "-Xcompiler=-Werror" in flags and "--Werror=all-warnings" in flags, flags


def test_cmake_builds_the_plugin_against_each_header_set(tmp_path):
    """The user's build of the plugin (CMake, default options but one architecture) against each
    TensorRT include folder: it links, needs the shared CUDA runtime (no static copy inside),
    exports the two entry points, and carries the headers' version tag."""
    cmake, _ = cmake_and_nvcc()
    readelf = shutil.which("readelf") or pytest.skip("no readelf (binutils)")
    for i, include in enumerate(tensorrt_include_dirs()):
        build = tmp_path / f"build{i}"
        result = configure_as_user(build, f"-DTensorRT_INCLUDE_DIR={include}", "-DCMAKE_CUDA_ARCHITECTURES=87",
                                   nvcc=True, timeout=600)
        assert result.returncode == 0, result.stderr
        result = subprocess.run([cmake, "--build", str(build), "--target", "ifan_iac_plugin", "-j2"],
                                capture_output=True, text=True, timeout=1200)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr
        library = next((build / "plugins" / "iacPlugin").glob("libifan_iac_plugin_trt*.so"))
        dynamic = subprocess.run([readelf, "-d", "-W", str(library)], capture_output=True, text=True).stdout
        assert re.search(r"NEEDED.*\[libcudart\.so\.\d+\]", dynamic), dynamic
        symbols = subprocess.run([readelf, "-s", "-W", str(library)], capture_output=True, text=True).stdout
        # every CUDA runtime call the plugin makes is undefined here, bound to libcudart.so at load
        runtime = [line.split() for line in symbols.splitlines()
                   if len(line.split()) >= 8 and line.split()[7].startswith(("cudaLaunchKernel", "cudaGetLastError"))]
        assert runtime and all(fields[6] == "UND" for fields in runtime), runtime
        assert built_for(library) is not None and f" {built_for(library)[0]}" in (include / "NvInferVersion.h").read_text()


def test_cuda_library_hint_configures_without_tensorrt(tmp_path):
    """The configure step run_iac's error message suggests works where TensorRT is absent (the
    CUDA library needs only nvcc)."""
    from ifan_trt.runtime.tensorrt.iac_cuda import BUILD_HINT

    command = re.search(r"`([^`]*)`", BUILD_HINT)[1].split("&&")[0].split()
    assert command[:5] == ["cmake", "-S", ".", "-B", "build"], command
    empty = tmp_path / "no-tensorrt"
    empty.mkdir()
    result = configure_as_user(tmp_path / "build", *command[5:], f"-DTensorRT_ROOT={empty}", nvcc=False)
    assert result.returncode == 0, result.stderr
