"""One command for a CUDA GPU, TensorRT optional: build the CUDA library, run the GPU tests and
compute-sanitizer, measure the copy bandwidth and the IAC kernel against it, time our PyTorch
model at 1280x720 (the reference an engine must beat) and, with TensorRT, the engines.

    python -m bench.gpu_check --json bench/results/gpu_check.json

At most about 8 minutes on one GPU. Prints one table; without a visible GPU it exits 1 with
one line. The IAC is memory-bound: its achieved bytes/s (the traffic model of
plugins/iacPlugin/README.md) over the device-to-device copy bandwidth is the figure to watch
(goal on a datacenter GPU: >= 60 %).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROG = "bench.gpu_check"
GPU_TESTS = ["tests/plugins/test_iac_cuda_gpu.py", "tests/runtime/test_tensorrt_cuda_gpu.py"]
IAC_SHAPE = (1, 128, 90, 160)  # IFAN's IAC features at 1280x720: c = 128, 1/8 resolution
IMAGE_SHAPE = (1, 3, 720, 1280)
PAPER_SECONDS = 0.014  # IFAN paper, 1280x720 on a desktop GPU


class CheckError(Exception):
    """A reason to stop with one line."""


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--json", metavar="FILE", help="write every figure as JSON")
    p.add_argument("--build-dir", default=str(REPO / "build-gpu-check"), help="CMake build folder")
    p.add_argument("--runs", type=int, default=20, help="timed runs per measurement (median)")
    p.add_argument("--skip-tests", action="store_true", help="do not run the GPU tests")
    p.add_argument("--skip-sanitizer", action="store_true", help="do not run compute-sanitizer")
    p.add_argument("--skip-engines", action="store_true", help="do not build TensorRT engines")
    p.add_argument("--engine-precisions", nargs="+", choices=("fp32", "fp16"), default=["fp16"],
                   help="engines to build and time with TensorRT (default fp16: each build takes minutes)")
    return p.parse_args(argv)


# ---- pure arithmetic (tested on the CPU) --------------------------------------------------------

def copy_gbps(nbytes: int, ms: float) -> float:
    """Device-to-device copy bandwidth: every byte is read once and written once."""
    return 2 * nbytes / (ms * 1e-3) / 1e9


def iac_bytes(shape, n_iters: int, k: int, mode: int, elem_bytes: int) -> int:
    """Bytes the IAC must move (plugins/iacPlugin/README.md): per iteration x_i, k (official) or
    2k (corrected) tap planes, the bias and x_{i+1}, each one feature map."""
    from bench.iac_network import IacSpec, iac_traffic_bytes

    return iac_traffic_bytes(shape, IacSpec(n_iters, k, mode, 1 if mode == 0 else 0), elem_bytes)


def kernel_row(name: str, nbytes: int, ms: float, copy: float) -> dict:
    gbps = nbytes / (ms * 1e-3) / 1e9
    return {"name": name, "ms": ms, "bytes": nbytes, "gbps": gbps, "of_copy": gbps / copy if copy else None}


def format_table(rows: list[dict], header: str) -> str:
    """One table: what, time, and the figure that judges it."""
    lines = [header, f"{'what':44s} {'ms':>9s}  figure", "-" * 80]
    for r in rows:
        ms = f"{r['ms']:9.3f}" if r.get("ms") is not None else f"{'-':>9s}"
        lines.append(f"{r['name']:44s} {ms}  {r.get('figure', '')}")
    return "\n".join(lines)


def kernel_figure(row: dict) -> str:
    share = f", {row['of_copy'] * 100:.0f} % of copy" if row["of_copy"] is not None else ""
    eager = f"; {row['eager_ms']:.3f} ms from Python" if row.get("eager_ms") is not None else ""
    return f"{row['gbps']:.0f} GB/s ({row['bytes'] / 1e6:.0f} MB){share}{eager}"


def paper_figure(ms: float) -> str:
    """A 1280x720 time against the paper's 0.014 s."""
    return f"{ms / 1e3 / PAPER_SECONDS:.2f}x the paper's 0.014 s"


def pytest_counts(output: str) -> dict[str, int]:
    """passed/failed/skipped/error counts from pytest's summary line."""
    return {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|failed|skipped|errors?|xfailed)", output)}


# ---- GPU steps --------------------------------------------------------------------------------

def gpu_visible() -> tuple[object, str]:
    """(torch, device name), or CheckError saying why no GPU can be used."""
    try:
        import torch
    except ImportError as exc:
        raise CheckError(f"no CUDA GPU visible: torch is not installed ({exc}); pip install 'ifan-trt[torch]'")
    if not torch.cuda.is_available():
        from ifan_trt.runtime.tensorrt.cuda import probe_gpus

        why, probe = "torch.cuda.is_available() is False", probe_gpus()
        if probe.count == 0:
            why += " and cuda-python/pycuda see no device" + (f" ({probe.problem})" if probe.problem else "")
        raise CheckError(f"no CUDA GPU visible: {why} (torch {torch.__version__}, CUDA {torch.version.cuda})")
    return torch, torch.cuda.get_device_name()


def build_library(torch, build_dir: Path) -> tuple[Path, str]:
    """libifan_iac_cuda.so for this GPU's architecture (required), then the rest (the plugin when
    CMake finds TensorRT; its failure is reported, not fatal). Returns (library, plugin status)."""
    major, minor = torch.cuda.get_device_capability()
    cmake = shutil.which("cmake") or _fail("cmake is not on PATH (the CUDA library is built with it)")
    jobs = ["-j", str(os.cpu_count() or 2)]
    # AUTO: the plugin where CMake finds TensorRT and nvcc (the default, ON, fails without them)
    steps = [[cmake, "-S", str(REPO), "-B", str(build_dir), f"-DCMAKE_CUDA_ARCHITECTURES={major}{minor}",
              "-DIFAN_BUILD_PLUGIN=AUTO"],
             [cmake, "--build", str(build_dir), "--target", "ifan_iac_cuda", *jobs]]
    for cmd in steps:
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            _fail(f"{' '.join(cmd[:3])} failed: {_last_line(result)}")
    library = build_dir / "plugins" / "iacPlugin" / "libifan_iac_cuda.so"
    if not library.is_file():
        _fail(f"{library} was not built (is nvcc on PATH? cmake needs it for the CUDA library)")
    result = subprocess.run([cmake, "--build", str(build_dir), *jobs], capture_output=True, text=True)
    if result.returncode != 0:
        return library, f"build failed: {_last_line(result)}"
    plugin = next(library.parent.glob("libifan_iac_plugin_trt*.so"), None)
    return library, f"built {plugin.name}" if plugin else "not built (CMake found no TensorRT)"


def _last_line(result: subprocess.CompletedProcess) -> str:
    lines = (result.stderr or result.stdout).strip().splitlines()
    return lines[-1] if lines else f"exit status {result.returncode}"


def _fail(message: str):
    raise CheckError(message)


def run_tests(env: dict) -> dict:
    cmd = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *GPU_TESTS]
    result = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    counts = pytest_counts(result.stdout)
    return {"rc": result.returncode, "counts": counts, "tail": result.stdout.strip().splitlines()[-15:]}


def run_sanitizer(env: dict) -> dict:
    """memcheck and racecheck on bench/iac_sanitize.py; {} when compute-sanitizer is absent."""
    tool = shutil.which("compute-sanitizer")
    if tool is None:
        cuda = Path(shutil.which("nvcc") or "/usr/local/cuda/bin/nvcc").resolve().parent / "compute-sanitizer"
        tool = str(cuda) if cuda.is_file() else None
    if tool is None:
        return {}
    results = {}
    env = dict(env, PYTORCH_NO_CUDA_MEMORY_CACHING="1")  # one cudaMalloc per tensor: overruns are visible
    for check in ("memcheck", "racecheck"):
        cmd = [tool, "--tool", check, "--error-exitcode", "9", sys.executable, "-m", "bench.iac_sanitize"]
        try:
            result = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=90)
            summary = [line for line in result.stdout.splitlines() if "ERROR SUMMARY" in line or "RACECHECK" in line]
            results[check] = {"rc": result.returncode, "summary": summary[-1:] or result.stdout.splitlines()[-1:]}
        except subprocess.TimeoutExpired:
            results[check] = {"rc": None, "summary": ["timed out after 90 s"]}
    return results


def time_cuda(torch, fn, runs: int, warmup: int = 3) -> float:
    """Median milliseconds of fn() on the current stream, CUDA events around each call."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def measure_copy(torch, runs: int) -> tuple[float, float]:
    """(ms, GB/s) of a 512 MiB device-to-device copy (well beyond any L2)."""
    nbytes = 512 * 1024 * 1024
    src = torch.empty(nbytes, dtype=torch.uint8, device="cuda").fill_(1)
    dst = torch.empty_like(src)
    ms = time_cuda(torch, lambda: dst.copy_(src), runs)
    return ms, copy_gbps(nbytes, ms)


def replay_ms(torch, fn, runs: int, reps: int = 10) -> float:
    """Median ms of one fn(), captured once in a CUDA graph and replayed reps times per timing:
    the GPU's time without Python's and the launches' overhead."""
    fn()  # initialises everything outside the capture
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    return time_cuda(torch, lambda: [graph.replay() for _ in range(reps)], runs) / reps


def measure_kernel(torch, library: Path, runs: int, copy: float) -> list[dict]:
    """The IAC at 1280x720 (c=128, 90x160, N=17, k=3): official compact FP16/FP32, corrected
    full FP16; bandwidth from graph replays, eager_ms (one run_iac call from Python) beside it."""
    from ifan_trt.contract import filter_channels
    from ifan_trt.runtime.tensorrt.iac_cuda import run_iac, workspace_bytes

    rows = []
    b, c, h, w = IAC_SHAPE
    for mode, layout, dtype in ((0, 1, torch.float16), (0, 1, torch.float32), (1, 0, torch.float16)):
        x = torch.randn(IAC_SHAPE, device="cuda").to(dtype)
        f = (torch.randn((b, filter_channels(17, c, 3, layout), h, w), device="cuda") * 0.4).to(dtype)
        out = torch.empty_like(x)
        ws = torch.empty(workspace_bytes(IAC_SHAPE, 17, str(dtype)[6:], library), dtype=torch.uint8, device="cuda")

        def iac():
            run_iac(x, f, out, n_iters=17, mode=mode, layout=layout, workspace=ws, library=library)

        eager = time_cuda(torch, iac, runs)
        name = f"IAC kernel {'official' if mode == 0 else 'corrected'} {str(dtype)[6:]} N=17 90x160x128"
        row = kernel_row(name, iac_bytes(IAC_SHAPE, 17, 3, mode, x.element_size()), replay_ms(torch, iac, runs), copy)
        rows.append(dict(row, eager_ms=eager))
    return rows


def time_model(torch, runs: int) -> list[dict]:
    """ifan_trt.model.IFAN at official size (N=17, ch=32, seeded random weights) at 1280x720:
    FP32 and FP16, eager and replayed as a CUDA graph."""
    rows = []
    for dtype in (torch.float32, torch.float16):
        rows += _time_model_in(torch, dtype, runs)
        torch.cuda.empty_cache()
    return rows


def _time_model_in(torch, dtype, runs: int) -> list[dict]:
    from ifan_trt.model import IFAN, IFANConfig

    torch.manual_seed(0)
    model = IFAN(IFANConfig()).cuda().eval().to(dtype)
    x = torch.rand(IMAGE_SHAPE, device="cuda").to(dtype)
    why = ""
    with torch.inference_mode():
        eager = time_cuda(torch, lambda: model(x), runs)
        try:
            replay = replay_ms(torch, lambda: model(x), runs, reps=1)
        except RuntimeError as exc:  # a model that cannot be captured is a finding, not a crash
            replay, why = None, str(exc).splitlines()[0]
    name = f"PyTorch IFAN {str(dtype)[6:]} 1280x720"
    return [{"name": f"{name} eager", "ms": eager, "figure": paper_figure(eager)},
            {"name": f"{name} CUDA graph", "ms": replay,
             "figure": paper_figure(replay) if replay is not None else f"capture failed: {why}"}]


def time_engines(work: Path, plugin_dir: Path, precisions: list[str]) -> list[dict]:
    """With TensorRT: export, build (each of precisions) and profile through the ifan CLI, the
    product's own engine-build code. [] without TensorRT."""
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        return []
    from ifan_trt.checkpoint import save_checkpoint
    from ifan_trt.model import IFAN, IFANConfig

    checkpoint, onnx = work / "ifan.pth", work / "ifan.onnx"
    import torch

    torch.manual_seed(0)
    save_checkpoint(IFAN(IFANConfig()), checkpoint)
    ifan = [sys.executable, "-m", "ifan_trt.cli"]
    env = dict(os.environ, IFAN_TRT_PLUGIN=str(next(plugin_dir.glob("libifan_iac_plugin_trt*.so"), "")))
    _run_cli(ifan + ["export", "--checkpoint", str(checkpoint), "-o", str(onnx), "--shape", "720x1280",
                     "--batch", "1"], env)
    rows = []
    for precision in precisions:
        engine, report = work / f"ifan_{precision}.engine", work / f"profile_{precision}.json"
        _run_cli(ifan + ["build", "--onnx", str(onnx), "-o", str(engine), "--precision", precision], env)
        _run_cli(ifan + ["profile", "--engine", str(engine), "--shape", "1x3x720x1280", "--no-layers",
                         "--json", str(report)], env)
        result = json.loads(report.read_text())["results"][0]
        ms = (result.get("gpu_compute_ms") or result["latency_ms"])["median"]
        rows.append({"name": f"TensorRT engine {precision} 1280x720", "ms": ms, "figure": paper_figure(ms)})
    return rows


def _run_cli(cmd: list[str], env: dict) -> None:
    result = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=400)
    if result.returncode != 0:
        _fail(f"{' '.join(cmd[2:4])} failed: {(result.stderr or result.stdout).strip().splitlines()[-1:]}")


def check_rows(tests: dict, sanitizer: dict, plugin: str = "") -> list[dict]:
    rows = [{"name": "TensorRT plugin", "ms": None, "figure": plugin}] if plugin else []
    if tests:
        counts = ", ".join(f"{n} {k}" for k, n in tests["counts"].items()) or "no summary"
        verdict = "ok" if tests["rc"] == 0 else "FAILED"
        rows.append({"name": "GPU tests (pytest)", "ms": None, "figure": f"{verdict}: {counts}"})
    if not sanitizer:
        rows.append({"name": "compute-sanitizer", "ms": None, "figure": "not found: skipped"})
    for check, r in sanitizer.items():
        rows.append({"name": f"compute-sanitizer {check}", "ms": None,
                     "figure": f"{'ok' if r['rc'] == 0 else 'FAILED'}: {' '.join(r['summary'])}"})
    return rows


def measure(args, torch, gpu: str) -> tuple[list[dict], dict]:
    from tqdm import tqdm

    build_dir = Path(args.build_dir)
    steps = tqdm(total=6, desc=PROG, unit="step", file=sys.stderr)
    report: dict = {"gpu": gpu, "torch": torch.__version__, "cuda": torch.version.cuda, "host": platform.node(),
                    "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "command": " ".join(sys.argv)}
    steps.set_postfix_str("cmake")
    library, report["plugin_build"] = build_library(torch, build_dir)
    steps.update()
    env = dict(os.environ, IFAN_IAC_CUDA_LIB=str(library), PYTHONPATH=str(REPO))
    steps.set_postfix_str("tests")
    report["tests"] = {} if args.skip_tests else run_tests(env)
    steps.update(); steps.set_postfix_str("sanitizer")
    report["sanitizer"] = {} if args.skip_sanitizer else run_sanitizer(env)
    steps.update(); steps.set_postfix_str("copy bandwidth")
    copy_ms, copy = measure_copy(torch, args.runs)
    rows = [{"name": "device-to-device copy 512 MiB", "ms": copy_ms, "figure": f"{copy:.0f} GB/s (read + write)"}]
    steps.update(); steps.set_postfix_str("IAC kernel")
    for row in measure_kernel(torch, library, args.runs, copy):
        rows.append(dict(row, figure=kernel_figure(row)))
    steps.update(); steps.set_postfix_str("PyTorch model")
    rows += time_model(torch, args.runs)
    if not args.skip_engines:
        with tempfile.TemporaryDirectory(prefix="gpu_check_") as work:
            rows += time_engines(Path(work), library.parent, args.engine_precisions)
    steps.update(); steps.close()
    report["copy_gbps"] = copy
    return rows, report


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        if args.json and not Path(args.json).resolve().parent.is_dir():
            raise CheckError(f"{args.json}: its folder does not exist")
        torch, gpu = gpu_visible()
        rows, report = measure(args, torch, gpu)
    except CheckError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    rows = check_rows(report["tests"], report["sanitizer"], report["plugin_build"]) + rows
    report["rows"] = rows
    print(format_table(rows, f"{PROG}: {gpu}, torch {report['torch']}, CUDA {report['cuda']}, {report['date']}"))
    if args.json:
        from ifan_trt.files import write_bytes

        write_bytes(Path(args.json), json.dumps(report, indent=2).encode(), overwrite=True)
    failed = report["tests"].get("rc") not in (None, 0) or any(r["rc"] != 0 for r in report["sanitizer"].values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
