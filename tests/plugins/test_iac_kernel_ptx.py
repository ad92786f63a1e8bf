"""What nvcc makes of the IAC kernel, read from its PTX and ptxas report for Orin (sm_87) and
Hopper (sm_90), for every instantiation iacIterationKernel<float or __half, K, VEC>:
- the filter loads (kernel1 taps, bias, kernel2: ld.global.cs, streamed) are issued before the
  first barrier, so their DRAM latency overlaps the feature tile's load instead of following it;
- the VEC=4 kernels touch shared memory only with 16-byte vector accesses (ld/st.shared.v4.f32:
  no 4-way bank conflicts between lanes 16 bytes apart), each a handful per thread;
- no register spills and no stack frame (a dynamically indexed register array would make one).
Skipped, with the reason, without nvcc."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

PLUGIN_DIR = Path(__file__).resolve().parents[2] / "plugins" / "iacPlugin"
ARCHS = ["sm_87", "sm_90"]
# iacIterationKernel<T, K, VEC> as nvcc mangles it: T is f (float) or 6__half
KERNEL = re.compile(r"iacIterationKernelI(f|6__half)Li(\d)ELi(\d)E")
INSTANTIATIONS = {(t, k, vec) for t in ("float", "half") for k in (1, 3, 5, 7) for vec in (1, 4)}


def nvcc() -> str:
    path = shutil.which("nvcc") or shutil.which("/usr/local/cuda/bin/nvcc")
    if path is None:
        pytest.skip("nvcc is not on PATH: install the CUDA toolkit to read the IAC kernel's PTX")
    return path


def compile_kernel(arch: str, tmp_path: Path, *flags: str) -> subprocess.CompletedProcess:
    if f"compute_{arch[3:]}" not in subprocess.run([nvcc(), "--list-gpu-arch"], capture_output=True,
                                                   text=True).stdout:
        pytest.skip(f"this nvcc cannot target {arch}")
    result = subprocess.run([nvcc(), "-std=c++17", "-O3", f"-arch={arch}", "-Wno-deprecated-gpu-targets", *flags,
                             str(PLUGIN_DIR / "iacKernel.cu")], capture_output=True, text=True, cwd=tmp_path,
                            timeout=600)
    assert result.returncode == 0, result.stderr
    return result


def instantiation(name: str) -> tuple[str, int, int]:
    match = KERNEL.search(name)
    assert match, name
    return ("float" if match[1] == "f" else "half", int(match[2]), int(match[3]))


@pytest.fixture(scope="module", params=ARCHS)
def ptx(request, tmp_path_factory) -> dict[tuple[str, int, int], str]:
    """Body of each kernel entry in the PTX, by (type, K, VEC)."""
    folder = tmp_path_factory.mktemp(f"ptx_{request.param}")
    compile_kernel(request.param, folder, "--ptx", "-o", "iacKernel.ptx")
    text = (folder / "iacKernel.ptx").read_text()
    bodies = {}
    for match in re.finditer(r"\.entry\s+(\S+)\s*\(", text):
        start = text.index("{", match.end())
        end = text.index("\n}", start)
        bodies[instantiation(match[1])] = text[start:end]
    assert set(bodies) == INSTANTIATIONS, sorted(bodies)
    return bodies


def phases(body: str) -> list[str]:
    """The kernel's PTX cut at its two barriers: phases 0-1 (filter loads, feature tile), 2
    (vertical pass), 3 (horizontal pass)."""
    parts = body.split("bar.sync")
    assert len(parts) == 3, f"{len(parts) - 1} barriers"
    return parts


def count(pattern: str, text: str) -> int:
    return len(re.findall(pattern, text))


SCALAR = r"(?:ld|st)\.shared\.f32"


def test_filter_loads_are_issued_before_the_first_barrier(ptx):
    """The thread's own kernel1 taps, its bias and (corrected mode) kernel2 -- the 2K + 1
    streamed loads it needs -- all before the first bar.sync; after it, only the halo groups'
    K taps (threads at the edges of a tile of several)."""
    for (dtype, k, vec), body in ptx.items():
        first, vertical, horizontal = phases(body)
        assert count(r"ld\.global\.cs", first) == 2 * k + 1, (dtype, k, vec)
        assert count(r"ld\.global\.cs", vertical) == (k if k > 1 else 0), (dtype, k, vec)
        assert count(r"ld\.global\.cs", horizontal) == 0, (dtype, k, vec)


def test_vector_path_uses_vector_shared_memory_accesses(ptx):
    """VEC = 4: the tile and v are stored as float4, the vertical pass reads K float4 rows, the
    horizontal pass reads its window once as float4s. nvcc may narrow the window's edge
    neighbours to one float each (at most 2 for k = 3): at a 16-byte lane stride that takes the
    same 4 shared-memory wavefronts as the float4 it replaces. Before, every access was scalar."""
    for (dtype, k, vec), body in ptx.items():
        if vec != 4:
            continue
        first, vertical, horizontal = phases(body)
        assert count(SCALAR, first) == 0 and count(r"st\.shared\.v4\.f32", first) >= 1, (dtype, k)
        assert count(SCALAR, vertical) == 0, (dtype, k)
        assert count(r"ld\.shared\.v4\.f32", vertical) >= k and count(r"st\.shared\.v4\.f32", vertical) >= 1, (dtype, k)
        assert count(r"st\.shared", horizontal) == 0, (dtype, k)
        window = count(r"ld\.shared\.v4\.f32", horizontal) + count(r"ld\.shared\.f32", horizontal)
        assert count(r"ld\.shared\.v4\.f32", horizontal) >= 1 and window == (1 if k == 1 else 3), (dtype, k)


@pytest.mark.parametrize("arch", ARCHS)
def test_no_spills_and_no_stack_frame(arch, tmp_path):
    result = compile_kernel(arch, tmp_path, "-c", "--resource-usage", "-o", "iacKernel.o")
    report = result.stdout + result.stderr
    seen = set()
    current = None
    for line in report.splitlines():
        match = re.search(r"Function properties for (\S+)|Compiling entry function '(\S+)'", line)
        if match:
            name = match[1] or match[2]
            current = instantiation(name) if KERNEL.search(name) else None
            continue
        if current is None:
            continue
        if "bytes stack frame" in line:
            frame = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", line)
            assert frame and frame.groups() == ("0", "0", "0"), (arch, current, line)
            seen.add(current)
    assert seen == INSTANTIATIONS, (sorted(seen), report[-2000:])
