"""One command for a CUDA GPU, TensorRT optional: build the CUDA library, run the GPU tests and
compute-sanitizer, measure the copy bandwidth and the IAC kernel against it, time our PyTorch
model at 1280x720 (the reference an engine must beat) and, with TensorRT, the engines.

    python -m bench.gpu_check --json bench/results/gpu_check.json

About 8 minutes on one GPU, plus a few per engine. Prints one table; without a visible GPU it
exits 1 with one line. A step that fails or runs past its time limit (the GPU tests, each
compute-sanitizer tool, each engine build) is a row saying so, and the other figures are still
printed and written; the exit status is then 1. The IAC is memory-bound: its achieved bytes/s (the traffic model of
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
TESTS_TIMEOUT_S = 600
SANITIZER_TIMEOUT_S = 600  # per tool: torch starts slowly under memcheck/racecheck, more so on a Jetson
CLI_TIMEOUT_S = 1200  # per ifan step: an FP16 build at 1280x720 takes minutes on a Jetson
JETPACK_NVCC = Path("/usr/local/cuda/bin/nvcc")  # JetPack installs the toolkit off PATH
ENGINE_SHAPES = "min=1x3x720x1280,opt=1x3x720x1280,max=1x3x720x1280"  # static: a CUDA graph per run


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


def find_nvcc() -> str | None:
    """nvcc on PATH, else where JetPack (and NVIDIA's desktop packages) install it."""
    found = shutil.which("nvcc")
    if found:
        return found
    return str(JETPACK_NVCC) if JETPACK_NVCC.is_file() else None


def build_library(torch, build_dir: Path) -> tuple[Path, str]:
    """libifan_iac_cuda.so for this GPU's architecture (required), then the rest (the plugin when
    CMake finds TensorRT; its failure is reported, not fatal). Returns (library, plugin status)."""
    major, minor = torch.cuda.get_device_capability()
    cmake = shutil.which("cmake") or _fail("cmake is not on PATH (the CUDA library is built with it)")
    nvcc = find_nvcc() or _fail(f"nvcc is neither on PATH nor at {JETPACK_NVCC}; install the CUDA toolkit "
                                "(on a Jetson: sudo apt install nvidia-jetpack)")
    jobs = ["-j", str(os.cpu_count() or 2)]
    # AUTO: the plugin where CMake finds TensorRT and nvcc (the default, ON, fails without them)
    steps = [[cmake, "-S", str(REPO), "-B", str(build_dir), f"-DCMAKE_CUDA_ARCHITECTURES={major}{minor}",
              f"-DCMAKE_CUDA_COMPILER={nvcc}", "-DIFAN_BUILD_PLUGIN=AUTO"],
             [cmake, "--build", str(build_dir), "--target", "ifan_iac_cuda", *jobs]]
    for cmd in steps:
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            _fail(f"{' '.join(cmd[:3])} failed: {_last_line(result)}")
    library = build_dir / "plugins" / "iacPlugin" / "libifan_iac_cuda.so"
    if not library.is_file():
        _fail(f"{library} was not built (CMake used {nvcc}; see its output in {build_dir})")
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


def run_step(cmd: list[str], timeout: float, **kwargs) -> tuple[int | None, str]:
    """(exit status, stdout + stderr) of a subprocess; (None, what it printed) when it ran past
    timeout seconds (killed), so that a slow step is reported, never a traceback."""
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired as exc:
        text = "".join(part.decode(errors="replace") if isinstance(part, bytes) else part
                       for part in (exc.stdout or "", exc.stderr or ""))
        return None, text
    return result.returncode, (result.stdout or "") + (result.stderr or "")


def run_tests(env: dict) -> dict:
    cmd = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *GPU_TESTS]
    rc, output = run_step(cmd, TESTS_TIMEOUT_S, cwd=REPO, env=env)
    result = {"rc": rc, "counts": pytest_counts(output), "tail": output.strip().splitlines()[-15:]}
    if rc is None:
        result["timed_out_s"] = TESTS_TIMEOUT_S
    return result


def find_sanitizer() -> str | None:
    tool = shutil.which("compute-sanitizer")
    if tool is None:
        cuda = Path(find_nvcc() or JETPACK_NVCC).resolve().parent / "compute-sanitizer"
        tool = str(cuda) if cuda.is_file() else None
    return tool


def run_sanitizer(env: dict) -> dict:
    """memcheck and racecheck on bench/iac_sanitize.py; {} when compute-sanitizer is absent."""
    tool = find_sanitizer()
    if tool is None:
        return {}
    results = {}
    env = dict(env, PYTORCH_NO_CUDA_MEMORY_CACHING="1")  # one cudaMalloc per tensor: overruns are visible
    for check in ("memcheck", "racecheck"):
        cmd = [tool, "--tool", check, "--error-exitcode", "9", sys.executable, "-m", "bench.iac_sanitize"]
        rc, output = run_step(cmd, SANITIZER_TIMEOUT_S, cwd=REPO, env=env)
        if rc is None:
            results[check] = {"rc": None, "timed_out_s": SANITIZER_TIMEOUT_S,
                              "summary": [f"timed out after {SANITIZER_TIMEOUT_S} s"]}
            continue
        summary = [line for line in output.splitlines() if "ERROR SUMMARY" in line or "RACECHECK" in line]
        results[check] = {"rc": rc, "summary": summary[-1:] or output.strip().splitlines()[-1:]}
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


ENGINES_ROW = "TensorRT engines"


def time_engines(work: Path, plugin_dir: Path, precisions: list[str]) -> list[dict]:
    """With TensorRT and the plugin built: export a dynamic graph, then per precision build it
    with a static 1x3x720x1280 profile and profile the engine, through the ifan CLI (the
    product's own engine-build code). Without TensorRT: []. Without the plugin, or when a step
    fails or times out: a row saying why (failed rows carry "failed": True)."""
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        return []
    plugin = next(plugin_dir.glob("libifan_iac_plugin_trt*.so"), None)
    if plugin is None:
        return [{"name": ENGINES_ROW, "ms": None,
                 "figure": f"skipped: no TensorRT plugin in {plugin_dir} (see the TensorRT plugin row)"}]
    from ifan_trt.checkpoint import save_checkpoint
    from ifan_trt.model import IFAN, IFANConfig

    checkpoint, onnx = work / "ifan.pth", work / "ifan.onnx"
    import torch

    torch.manual_seed(0)
    save_checkpoint(IFAN(IFANConfig()), checkpoint)
    ifan = [sys.executable, "-m", "ifan_trt.cli"]
    env = dict(os.environ, IFAN_TRT_PLUGIN=str(plugin))
    problem = _run_cli(ifan + ["export", "--checkpoint", str(checkpoint), "-o", str(onnx)], env)
    if problem:
        return [{"name": ENGINES_ROW, "ms": None, "figure": problem, "failed": True}]
    rows = []
    for precision in precisions:
        name = f"TensorRT engine {precision} 1280x720"
        engine, report = work / f"ifan_{precision}.engine", work / f"profile_{precision}.json"
        problem = (_run_cli(ifan + ["build", "--onnx", str(onnx), "-o", str(engine), "--precision", precision,
                                    "--shapes", ENGINE_SHAPES], env)
                   or _run_cli(ifan + ["profile", "--engine", str(engine), "--shape", "1x3x720x1280", "--no-layers",
                                       "--json", str(report)], env))
        if problem:
            rows.append({"name": name, "ms": None, "figure": problem, "failed": True})
            continue
        result = json.loads(report.read_text())["results"][0]
        ms = (result.get("gpu_compute_ms") or result["latency_ms"])["median"]
        rows.append({"name": name, "ms": ms, "figure": paper_figure(ms)})
    return rows


def _run_cli(cmd: list[str], env: dict) -> str | None:
    """Run one `ifan` step; None when it succeeded, else why it did not (one line)."""
    step = cmd[3]
    rc, output = run_step(cmd, CLI_TIMEOUT_S, cwd=REPO, env=env)
    if rc is None:
        return f"ifan {step} timed out after {CLI_TIMEOUT_S} s"
    if rc != 0:
        lines = output.strip().splitlines()
        return f"ifan {step} failed: {lines[-1] if lines else f'exit status {rc}'}"
    return None


def _verdict(rc: int | None, timed_out: bool) -> str:
    return "timed out" if timed_out else "ok" if rc == 0 else "FAILED"


def check_rows(tests: dict, sanitizer: dict, plugin: str = "") -> list[dict]:
    rows = [{"name": "TensorRT plugin", "ms": None, "figure": plugin}] if plugin else []
    if tests:
        counts = ", ".join(f"{n} {k}" for k, n in tests["counts"].items()) or "no summary"
        verdict = _verdict(tests["rc"], "timed_out_s" in tests)
        if "timed_out_s" in tests:
            counts = f"after {tests['timed_out_s']} s; " + counts
        rows.append({"name": "GPU tests (pytest)", "ms": None, "figure": f"{verdict}: {counts}"})
    if not sanitizer:
        rows.append({"name": "compute-sanitizer", "ms": None, "figure": "not found: skipped"})
    for check, r in sanitizer.items():
        verdict = _verdict(r["rc"], "timed_out_s" in r)
        summary = "" if "timed_out_s" in r else f": {' '.join(r['summary'])}"
        figure = f"{verdict} after {r['timed_out_s']} s" if "timed_out_s" in r else f"{verdict}{summary}"
        rows.append({"name": f"compute-sanitizer {check}", "ms": None, "figure": figure})
    return rows


def failed(report: dict, rows: list[dict]) -> bool:
    """Whether any check failed or did not finish: the GPU tests, a sanitizer tool, a step's row."""
    tests = report.get("tests") or {}
    if tests and tests.get("rc") != 0:
        return True
    if any(r["rc"] != 0 for r in (report.get("sanitizer") or {}).values()):
        return True
    return any(r.get("failed") for r in rows)


def guarded(name: str, step) -> list[dict]:
    """step()'s rows, or one row saying how it failed: what was measured before it is kept."""
    try:
        return step()
    except Exception as exc:  # noqa: BLE001  any failure of one step becomes its row
        first = (str(exc).strip().splitlines() or [""])[0]
        return [{"name": name, "ms": None, "figure": f"FAILED: {type(exc).__name__}: {first}", "failed": True}]


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
    rows += guarded("IAC kernel", lambda: [dict(row, figure=kernel_figure(row))
                                           for row in measure_kernel(torch, library, args.runs, copy)])
    steps.update(); steps.set_postfix_str("PyTorch model")
    rows += guarded("PyTorch IFAN 1280x720", lambda: time_model(torch, args.runs))
    if not args.skip_engines:
        steps.set_postfix_str("engines")
        with tempfile.TemporaryDirectory(prefix="gpu_check_") as work:
            rows += guarded(ENGINES_ROW, lambda: time_engines(Path(work), library.parent, args.engine_precisions))
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
    return 1 if failed(report, rows) else 0


if __name__ == "__main__":
    sys.exit(main())
