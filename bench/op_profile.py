"""Where a CPU row's time goes: ONNX Runtime's own per-node profile of the product's session
(the CPU rewrites and session options of `ifan deblur --onnx` on the CPU), summed by op type,
with the convolutions' share set against the machine's GEMM floor measured in the same run.

    python -m bench.op_profile --size 720x1280 --rows c,e      # table; --json FILE for the numbers

The floor (bench.gemm_rate, bench.macs) counts MACs only: what a row spends outside its
convolutions (layout reorders, the IAC's element-wise ops, pixel shuffles, activations) is time
above the floor whatever the convolutions reach.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
import time
from pathlib import Path


from ifan_trt.files import write_bytes
from ifan_trt.sizes import parse_size

from . import prepare
from .report import cpu_model, floor_seconds, format_table

CONV_OPS = ("Conv", "FusedConv", "QLinearConv", "ConvInteger", "NchwcConv")


def _session(path: Path, threads: int, prefix: str):
    """The session the product makes for this graph on the CPU, with profiling on."""
    import onnx
    import onnxruntime as ort

    from ifan_trt.export.cpu_rewrites import optimise_for_cpu
    from ifan_trt.runtime.executors.ort_session import session_options

    model, _ = optimise_for_cpu(onnx.load(os.fspath(path)))
    options = session_options(ort, threads)
    options.enable_profiling = True
    options.profile_file_prefix = prefix
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def op_times(events: list[dict]) -> tuple[dict[str, float], float]:
    """Seconds per op type inside the last model run of a profile, and that run's wall time."""
    runs = sorted((e for e in events if e.get("name") == "model_run"), key=lambda e: e["ts"])
    if not runs:
        raise ValueError("the profile holds no model_run event")
    last = runs[-1]
    start, end = last["ts"], last["ts"] + last["dur"]
    by_op: dict[str, float] = collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time") and start <= e["ts"] <= end:
            by_op[e["args"]["op_name"]] += e["dur"] / 1e6
    return dict(by_op), last["dur"] / 1e6


def profile_row(path: Path, size: str, threads: int) -> tuple[dict[str, float], float]:
    h, w = parse_size(size, "--size")
    x = prepare.image(h, w, prepare.SEED)
    with tempfile.TemporaryDirectory() as tmp:
        session = _session(path, threads, str(Path(tmp) / "ort"))
        session.run(None, {"input": x})  # warm-up: arena and kernels
        session.run(None, {"input": x})
        with open(session.end_profiling()) as fh:
            return op_times(json.load(fh))


def row_table(key: str, size: str, by_op: dict[str, float], seconds: float, floor: float | None) -> list[list[str]]:
    conv = sum(v for op, v in by_op.items() if op in CONV_OPS)
    rows = [[key, op, f"{v:.3f}", f"{100 * v / seconds:.1f}%"] for op, v in
            sorted(by_op.items(), key=lambda kv: -kv[1])[:8]]
    rows.append([key, "all convolutions", f"{conv:.3f}", f"{100 * conv / seconds:.1f}%"
                 + (f" ({conv / floor:.2f}x the floor)" if floor else "")])
    rows.append([key, "whole run", f"{seconds:.3f}", "100%" + (f" ({seconds / floor:.2f}x the floor)" if floor else "")])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.op_profile", description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="/tmp/ifan_bench", help="cache of generated artefacts (as bench.cpu_speed)")
    parser.add_argument("--size", default="720x1280", help="HxW")
    parser.add_argument("--rows", default="c", help="c (FP32 path) and/or e (INT8 path), comma-separated")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the numbers as JSON")
    args = parser.parse_args(argv)
    from .gemm_rate import measure
    from .macs import row_macs

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    source = prepare.exported(work, prepare.checkpoint(work), "plugin", prune=True)
    graphs = {"c": source, "e": prepare.int8(work, source) if "e" in args.rows else None}
    rates = measure(args.threads)
    rates = {"fp32": rates["fp32_ops_per_s"], "int8": rates["int8_ops_per_s"]}
    macs = row_macs([args.size])
    table, result = [], {"cpu": cpu_model(open("/proc/cpuinfo").read()), "size": args.size, "rates": rates,
                         "threads": args.threads, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                         "load_average": os.getloadavg()[0], "rows": {}}
    for key in args.rows.split(","):
        by_op, seconds = profile_row(graphs[key], args.size, args.threads)
        floor = floor_seconds(macs[key][args.size], rates)
        result["rows"][key] = {"ops": by_op, "seconds": seconds, "floor": floor}
        table += row_table(key, args.size, by_op, seconds, floor)
    print(f"{result['cpu']}, {args.threads} threads, {args.size}, load average {result['load_average']:.1f}; "
          f"GEMM FP32 {rates['fp32'] / 1e9:.0f} GFLOP/s, u8s8 {rates['int8'] / 1e9:.0f} GOP/s")
    print(format_table(["row", "op type", "seconds", "share of the run"], table))
    if args.json:
        write_bytes(args.json, json.dumps(result, indent=1), overwrite=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
