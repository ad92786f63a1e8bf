"""What each step of the ONNX Runtime CPU path gives: the FP32 graph from the raw
export with ONNX Runtime's defaults to the configuration of row c, one change at a time, then
single-setting variations of row c and the INT8 choices. Same harness as bench.cpu_speed (one
process per configuration, median of --runs after warm-up, peak RSS of that process).

    python -m bench.ablation --size 720x1280
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from ifan_trt.files import write_bytes

from . import prepare
from .cpu_speed import BEST_ORT, ROOT, machine, run_worker
from .report import MiB, format_table, median_seconds

DEFAULT_ORT = {"level": "ORT_ENABLE_ALL", "arena": True, "mem_pattern": True}  # ONNX Runtime's defaults


def steps(work: Path) -> list[tuple[str, str, Path, dict]]:
    """(step id, what changed, graph, ORT options); cumulative first, then variations of c.
    Run by ``python -m bench.ablation --prepare-only`` in a child so the parent stays small."""
    ckpt = prepare.checkpoint(work)
    unpruned = prepare.exported(work, ckpt, "onnx", prune=False)
    pruned = prepare.exported(work, ckpt, "onnx", prune=True)
    streamed = prepare.optimised(work, pruned, stream=True, subpixel=False)
    best = prepare.optimised(work, pruned)
    plugin = prepare.exported(work, ckpt, "plugin", prune=True)
    return [
        ("s0", "export as is (kernel2 kept), ORT defaults", unpruned, DEFAULT_ORT),
        ("s1", "+ kernel2 rows pruned (export prune=True)", pruned, DEFAULT_ORT),
        ("s2", "+ F streamed: one 1x1 conv per IAC slice", streamed, DEFAULT_ORT),
        ("s3", "+ upconvs as sub-pixel convs (no col2im buffer)", best, DEFAULT_ORT),
        ("s4", "+ memory pattern off, arena grows as requested", best, dict(BEST_ORT, spinning=True)),
        ("s5", "+ intra-op thread spinning off = row c", best, BEST_ORT),
        ("v1", "c with level ORT_ENABLE_EXTENDED (no NCHWc)", best, dict(BEST_ORT, level="ORT_ENABLE_EXTENDED")),
        ("v2", "c with level ORT_ENABLE_BASIC", best, dict(BEST_ORT, level="ORT_ENABLE_BASIC")),
        ("v3", "c with the CPU arena off", best, dict(BEST_ORT, arena=False)),
        ("v3b", "c with the default arena (power-of-two growth)", best, dict(BEST_ORT, arena=True)),
        ("v4", "c with arena and memory pattern on", best, dict(BEST_ORT, mem_pattern=True)),
        ("v5", "c with parallel execution mode", best, dict(BEST_ORT, parallel=True)),
        ("i1", "INT8 graph for TensorRT (Q/DQ on conv inputs only), standard-op form", prepare.int8(work, pruned, "tensorrt"), BEST_ORT),
        ("i2", "INT8 for the CPU (u8 activations, DQ-op-Q units), filter convs float", prepare.int8(work, plugin, "cpu", False), BEST_ORT),
        ("i3", "INT8 for the CPU, streamed filter convs quantized too = row e", prepare.int8(work, plugin, "cpu"), BEST_ORT),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ablation", description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="720x1280")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", default="", help="comma-separated step ids (default: all)")
    parser.add_argument("--work", default="/tmp/ifan_bench")
    parser.add_argument("--out", default="bench/results")
    parser.add_argument("--prepare-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.prepare_only:  # in the child: make the graphs, print the plan as JSON
        plan = [(sid, what, str(graph), opts) for sid, what, graph, opts in steps(Path(args.work))]
        print(json.dumps({"input": str(prepare.input_path(Path(args.work), args.size)), "steps": plan}))
        return 0
    from tqdm import tqdm

    work, out_dir = Path(args.work), Path(args.out)
    work.mkdir(parents=True, exist_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.time()
    made = subprocess.run([sys.executable, "-m", "bench.ablation", "--prepare-only", "--work", str(work),
                           "--size", args.size], cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True)
    plan = json.loads(made.stdout.strip().splitlines()[-1])
    inp = plan["input"]
    todo = [(sid, what, Path(graph), opts) for sid, what, graph, opts in plan["steps"]]
    if args.only:
        keep = set(args.only.split(","))
        todo = [s for s in todo if s[0] in keep]
    results = []
    for sid, what, graph, opts in tqdm(todo, desc="ablation", unit="cfg"):
        spec = {"kind": "ort", "onnx": str(graph), "input": inp, "ort": opts, "threads": args.threads,
                "runs": args.runs, "warmup": args.warmup, "size": args.size, "cache_dir": str(work)}
        try:
            res, peak = run_worker(spec, work)
            results.append((sid, what, graph.name, median_seconds(res["times"]), peak, ""))
        except Exception as exc:
            results.append((sid, what, graph.name, 0.0, 0, str(exc)[:80]))
    first = next((r for r in results if not r[5]), None)
    rows = []
    for sid, what, graph, sec, peak, err in results:
        if err:
            rows.append([sid, what, "failed", "-", "-", err])
            continue
        rows.append([sid, what, f"{sec:.2f}", f"{first[3] / sec:.2f}x", f"{peak / MiB:.0f}", graph])
    info = machine()
    text = (f"ONNX Runtime CPU ablation at {args.size}: {info['cpu']}, {args.threads} threads, median of {args.runs} "
            f"runs after {args.warmup} warm-up, onnxruntime {info['onnxruntime']}, load average "
            f"{info['load_avg'][0]:.2f}\n\n"
            + format_table(["step", "change", "median s", f"vs {first[0] if first else '-'}", "peak RSS MiB", "graph"], rows)
            + f"\n\ntotal {time.time() - start:.0f} s")
    print(text)
    write_bytes(out_dir / f"ablation_{args.size}.md", text + "\n", overwrite=True)  # a re-run replaces its report
    return 0


if __name__ == "__main__":
    sys.exit(main())
