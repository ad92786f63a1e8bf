"""GPU micro-benchmark of the IAC: the IFAN_IAC plugin against the same IAC built by TensorRT from
its own layers (clamped Slices, Mul/Add, LeakyReLU), one engine each, at the feature size of a
1280x720 image (c=128, 90x160, N=17) unless told otherwise.

Reports the time per IAC (median of --runs, after --warmup), the achieved bandwidth (the bytes
the IAC must move at least, see iac_traffic_bytes, divided by the time), and the time the same
bytes take at the peak bandwidth of Orin AGX (204.8 GB/s) and Orin Nano (68 GB/s). Writes the
numbers as JSON and a bar chart (PNG) next to --out.

    python bench/iac_plugin_gpu.py --dtype fp16 fp32 --out bench/results/iac_plugin

Without a GPU, TensorRT, torch with CUDA or the built plugin it prints why and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

from ifan_trt.files import atomic_path, write_bytes

PEAK_GBPS = {"Orin AGX": 204.8, "Orin Nano": 68.0}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dtype", nargs="+", choices=("fp32", "fp16"), default=["fp16", "fp32"])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--channels", type=int, default=128)
    parser.add_argument("--height", type=int, default=90, help="feature height (image height / 8)")
    parser.add_argument("--width", type=int, default=160, help="feature width (image width / 8)")
    parser.add_argument("--n-iters", type=int, default=17)
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--mode", choices=("official", "corrected"), default="official")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--skip-standard", action="store_true", help="time the plugin only")
    parser.add_argument("--plugin", help="plugin library (default: see load_plugin)")
    parser.add_argument("--out", default="bench/results/iac_plugin_gpu", help="output path without suffix")
    return parser.parse_args(argv)


def unavailable() -> str | None:
    """Why the machine it runs on cannot run the benchmark, or None."""
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        return "TensorRT (Python) is not installed"
    try:
        import torch
    except ImportError:
        return "torch is not installed (it provides the GPU buffers and timing)"
    if not torch.cuda.is_available():
        return "no CUDA GPU visible"
    return None


def time_engine(trt, torch, serialized: bytes, inputs: dict, runs: int, warmup: int) -> list[float]:
    """Milliseconds per execution of the engine, one value per run."""
    engine = trt.Runtime(trt.Logger(trt.Logger.WARNING)).deserialize_cuda_engine(serialized)
    context = engine.create_execution_context()
    out = torch.empty_like(inputs["iac_features"])
    for name, tensor in list(inputs.items()) + [("iac_output", out)]:
        context.set_tensor_address(name, tensor.data_ptr())
    stream = torch.cuda.Stream()
    for _ in range(warmup):
        if not context.execute_async_v3(stream.cuda_stream):
            raise RuntimeError("execute_async_v3 failed in the warm-up (see TensorRT's log)")
    times = []
    for _ in range(runs):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record(stream)
        if not context.execute_async_v3(stream.cuda_stream):  # a failed enqueue must not be timed
            raise RuntimeError("execute_async_v3 failed in the timed loop (see TensorRT's log)")
        end.record(stream)
        end.synchronize()
        times.append(start.elapsed_time(end))
    return times


def plot(results: list[dict], path: Path) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot")
        return
    labels = [f"{r['form']} {r['dtype']}" for r in results]
    values = [r["achieved_gbps"] for r in results]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.bar(labels, values, color=["tab:blue" if r["form"] == "plugin" else "tab:gray" for r in results])
    for name, peak in PEAK_GBPS.items():
        ax.axhline(peak, linestyle="--", linewidth=1, color="tab:red")
        ax.text(len(labels) - 0.5, peak, f" {name} peak {peak:g} GB/s", va="bottom", ha="right", fontsize=8)
    ax.set_ylabel("achieved GB/s (minimum IAC traffic / time)")
    ax.set_title(f"IAC {results[0]['shape']} N={results[0]['n_iters']} on {results[0]['gpu']}")
    fig.tight_layout()
    with atomic_path(path, overwrite=True) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    args = parse_args(argv)
    reason = unavailable()
    if reason:
        print(f"iac_plugin_gpu: skipped: {reason}")
        return 0
    import tensorrt as trt
    import torch

    from ifan_trt.errors import IfanError
    from bench.iac_network import IacSpec, build_iac_engine, iac_traffic_bytes
    from ifan_trt.runtime.tensorrt.plugin_library import load_plugin

    try:
        library = load_plugin(args.plugin)
    except IfanError as exc:
        print(f"iac_plugin_gpu: skipped: {exc}")
        return 0
    mode = 0 if args.mode == "official" else 1
    spec = IacSpec(args.n_iters, args.k, mode, 1 if mode == 0 else 0)  # official: compact layout
    shape = (args.batch, args.channels, args.height, args.width)
    logger = trt.Logger(trt.Logger.WARNING)
    gpu = torch.cuda.get_device_name()
    forms = ["plugin"] + ([] if args.skip_standard else ["standard"])
    print(f"IAC {shape} N={spec.n_iters} k={spec.k} {args.mode}; plugin {library}; GPU {gpu}; TensorRT {trt.__version__}")
    results = []
    for dtype in args.dtype:
        torch_type = torch.float16 if dtype == "fp16" else torch.float32
        g = torch.Generator().manual_seed(0)
        inputs = {
            "iac_features": torch.randn(shape, generator=g).to(torch_type).cuda(),
            "iac_filters": (torch.randn((shape[0], spec.filter_channels(shape[1]), *shape[2:]), generator=g)
                            * (1.2 / spec.k)).to(torch_type).cuda(),
        }
        traffic = iac_traffic_bytes(shape, spec, 2 if dtype == "fp16" else 4)
        for form in forms:
            serialized = build_iac_engine(trt, logger, form, dtype, spec, shape)
            times = time_engine(trt, torch, serialized, inputs, args.runs, args.warmup)
            ms = statistics.median(times)
            row = {"form": form, "dtype": dtype, "shape": list(shape), "n_iters": spec.n_iters, "k": spec.k,
                   "mode": args.mode, "gpu": gpu, "tensorrt": trt.__version__, "median_ms": ms,
                   "min_ms": min(times), "traffic_bytes": traffic, "achieved_gbps": traffic / ms / 1e6,
                   "bound_ms": {name: traffic / (peak * 1e9) * 1e3 for name, peak in PEAK_GBPS.items()}}
            results.append(row)
            print(f"{form:8s} {dtype}: {ms:8.3f} ms  {row['achieved_gbps']:7.1f} GB/s  "
                  f"({traffic / 1e6:.1f} MB; bandwidth bound "
                  + ", ".join(f"{n} {v:.2f} ms" for n, v in row["bound_ms"].items()) + ")")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(out.with_suffix(".json"), json.dumps(results, indent=2), overwrite=True)
    plot(results, out.with_suffix(".png"))
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
