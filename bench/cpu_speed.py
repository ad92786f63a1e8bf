"""IFAN on the CPU: PyTorch eager baseline vs our PyTorch model vs ONNX Runtime FP32 / native IAC /
INT8, and the IAC alone. One table, every row measured in this run, each configuration
in its own process (its peak RSS is its own), median of --runs timed runs after --warmup. Each
network row is also set against its arithmetic floor: its MACs (bench.macs) at the machine's FP32
and u8s8 GEMM rates, measured in the same run (bench.gemm_rate).

    python -m bench.cpu_speed                 # 1280x720 and 1920x1080, 2 threads, 5 runs
    python -m bench.cpu_speed --sizes 720x1280 --rows a,c,e

Artefacts (random-init full-size checkpoint, ONNX graphs, INT8 graph, inputs) are made on the fly
and cached in --work; results (markdown table, JSON, PNG) go to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ifan_trt.files import atomic_path, write_bytes

from .report import (MiB, TABLE_HEADER, Row, check_targets, floor_seconds, floor_targets, format_table,
                     format_targets, maxrss_bytes, median_seconds, psnr, table_rows)

# the fastest ONNX Runtime CPU settings measured (see bench/README.md, ablation)
BEST_ORT = {"level": "ORT_ENABLE_ALL", "arena": "same_as_requested", "mem_pattern": False, "spinning": False}

ROOT = Path(__file__).resolve().parent.parent
LABELS = {
    "a": "PyTorch eager, unfold IAC (official data flow)",
    "b": "PyTorch eager, ifan_trt.model.IFAN",
    "c": "ORT FP32: ifan export + the runtime's CPU path (standard-op IAC, streamed F, sub-pixel upconv)",
    "d": "ORT FP32, native fused IAC op (plugin form)",
    "e": "ORT INT8: ifan precision --to int8-cpu (u8 activations, DQ-op-Q), IAC float, runtime's CPU path",
    "f-unfold": "IAC alone: unfold (PyTorch)",
    "f-ours": "IAC alone: ifan_trt.iac (PyTorch)",
    "f-native": "IAC alone: native fused C++",
}
ROW_GROUPS = {"a": ["a"], "b": ["b"], "c": ["c"], "d": ["d"], "e": ["e"], "f": ["f-unfold", "f-ours", "f-native"]}


def run_worker(spec: dict, work: Path) -> tuple[dict, int]:
    """Run one configuration in a child process; (its JSON result, its peak RSS in bytes).

    The peak is the child's own VmHWM (read by the child from /proc/self/status at its end).
    wait4's ru_maxrss for the child is kept in the result as a cross-check: it can include the
    parent's peak (a child started with vfork inherits it at exec), so the parent stays small.
    """
    fd, spec_path = tempfile.mkstemp(prefix="spec_", suffix=".json", dir=work)
    with os.fdopen(fd, "w") as fh:
        json.dump(spec, fh)
    env = dict(os.environ, OMP_NUM_THREADS=str(spec["threads"]))
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, "-m", "bench.worker", spec_path], stdout=out, stderr=err,
                                cwd=ROOT, env=env)
        # wait4, not proc.wait(): it also returns this child's resource usage
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        lines, errors = out.read().decode().strip().splitlines(), err.read().decode().strip().splitlines()
    os.unlink(spec_path)
    if code != 0 or not lines:
        raise RuntimeError(f"exit {code}: {(errors or ['no output'])[-1]}")
    result = json.loads(lines[-1])
    result["ru_maxrss"] = maxrss_bytes(usage.ru_maxrss)
    return result, result["vmhwm"]


def prepare_in_child(work: Path, what: list[str], sizes: list[str]) -> dict[str, str]:
    """Make the artefacts in a child process (torch export, calibration), so that this process,
    the parent of every measured child, stays small. Returns name -> path."""
    cmd = [sys.executable, "-m", "bench.prepare", "--work", str(work), "--sizes", ",".join(sizes),
           "--what", ",".join(what)]
    result = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if result.returncode:
        raise SystemExit(f"preparing the benchmark artefacts failed (exit {result.returncode}): {' '.join(cmd)}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def plan(args, work: Path) -> tuple[list[tuple[Row, dict]], dict[str, str]]:
    """(row, worker spec) for every configuration in measuring order, and the artefact paths."""
    want = [k for g in args.rows.split(",") for k in ROW_GROUPS[g.strip()]]
    want_large = [k for g in args.rows_large.split(",") for k in ROW_GROUPS[g.strip()] if k in want]
    common = {"threads": args.threads, "runs": args.runs, "warmup": args.warmup, "cache_dir": str(work)}
    sizes = args.sizes.split(",")
    paths = prepare_in_child(work, [k for k in want if k in "abcde"], sizes)
    ckpt, graphs = paths["checkpoint"], paths
    out = []
    for i, size in enumerate(sizes):
        inp = paths.get(f"input_{size}", "")
        for key in (want if i == 0 else want_large):
            row = Row(key, LABELS[key], size, base=("f-unfold" if key.startswith("f") else "a") + f"@{size}")
            spec = dict(common, size=size, output=str(work / f"out_{key}_{size}.npy"))
            if key in ("a", "b"):
                spec.update(kind="torch_unfold" if key == "a" else "torch_ours", checkpoint=str(ckpt), input=inp)
            elif key in ("c", "e"):
                spec.update(kind="product", onnx=str(graphs[key]), input=inp)
            elif key == "d":
                spec.update(kind="ort_native", onnx=str(graphs[key]), input=inp, ort=BEST_ORT)
            else:
                spec.update(kind="iac", variant=key.split("-")[1])
            out.append((row, spec))
    return out, paths


def floor_inputs(sizes: list[str], threads: int) -> tuple[dict, dict]:
    """(GEMM rates of the machine it runs on, MACs per row and size), each from a child process (onnxruntime
    and torch stay out of the parent, whose size counts in its children's ru_maxrss)."""
    def child(*cmd):
        result = subprocess.run([sys.executable, "-m", *cmd], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        if result.returncode:
            raise SystemExit(f"{' '.join(cmd)} failed (exit {result.returncode})")
        return json.loads(result.stdout.strip().splitlines()[-1])

    return child("bench.gemm_rate", "--threads", str(threads)), child("bench.macs", "--sizes", ",".join(sizes))


def machine() -> dict:
    info = {"cpu": platform.processor() or "unknown", "cores": os.cpu_count()}
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                info["ram_gib"] = round(int(line.split()[1]) / (1 << 20), 1)
    except OSError:
        pass
    info["load_avg"] = [round(v, 2) for v in os.getloadavg()]
    import onnxruntime
    info["onnxruntime"] = onnxruntime.__version__
    return info


def plot(rows: list[Row], path: Path, title: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    good = [r for r in rows if not r.error]
    sizes = sorted({r.size for r in good}, key=lambda s: int(s.split("x")[0]))
    fig, axes = plt.subplots(len(sizes), 2, figsize=(13, 3.2 * len(sizes)), squeeze=False)
    for i, size in enumerate(sizes):
        sel = [r for r in good if r.size == size]
        names = [r.key for r in sel]
        by_id = {r.id: r for r in good}
        ups = [by_id[r.base].seconds / r.seconds if r.base in by_id else 0 for r in sel]
        axes[i][0].barh(names, ups, color=["#888" if r.id == r.base else "#2a7" for r in sel])
        axes[i][0].axvline(1.0, color="k", lw=0.8)
        axes[i][0].set_xscale("log")
        axes[i][0].set_title(f"{size}: speed-up vs its baseline (a; f-unfold for f)")
        for y, v in enumerate(ups):
            axes[i][0].text(v, y, f" {v:.2f}x", va="center", fontsize=8)
        rss = [r.rss / MiB for r in sel]
        axes[i][1].barh(names, rss, color="#37a")
        axes[i][1].set_title(f"{size}: peak RSS (MiB)")
        for y, v in enumerate(rss):
            axes[i][1].text(v, y, f" {v:.0f}", va="center", fontsize=8)
        for ax in axes[i]:
            ax.invert_yaxis()
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.96) if title else None)
    with atomic_path(path, overwrite=True) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cpu_speed", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="720x1280,1080x1920", help="HxW list (multiples of 8)")
    parser.add_argument("--rows", default="a,b,c,d,e,f", help="which rows (a..f)")
    parser.add_argument("--rows-large", default="a,c,e,f",
                        help="rows measured at the sizes after the first (keeps the bench under 15 minutes)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per configuration (median)")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--audit-size", default="360x640", help="size of the INT8 audit images")
    parser.add_argument("--work", default="/tmp/ifan_bench", help="cache of generated artefacts")
    parser.add_argument("--out", default="bench/results", help="where the table, JSON and PNG go")
    args = parser.parse_args(argv)
    from tqdm import tqdm

    work, out_dir = Path(args.work), Path(args.out)
    work.mkdir(parents=True, exist_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.time()
    print("preparing models and inputs (cached in", work, ")", file=sys.stderr)
    jobs, paths = plan(args, work)
    load_before = os.getloadavg()
    gemm, macs = floor_inputs(args.sizes.split(","), args.threads)
    rates = {"fp32": gemm["fp32_ops_per_s"], "int8": gemm["int8_ops_per_s"]}
    rows = []
    for row, spec in tqdm(jobs, desc="configurations", unit="cfg"):
        tqdm.write(f"{row.key} {row.size}: {row.label}", file=sys.stderr)
        try:
            result, peak = run_worker(spec, work)
            row.seconds, row.rss = median_seconds(result["times"]), peak
            row.extra = {"times": result["times"], "setup_s": result["setup_s"], "ru_maxrss": result["ru_maxrss"]}
        except Exception as exc:  # one failing configuration must not lose the others
            row.error = str(exc)
        row.floor = floor_seconds(macs.get(row.key, {}).get(row.size, {}), rates)
        rows.append(row)
    # accuracy: max |difference| against each row's baseline output; INT8 also PSNR vs FP32 graph
    int8_psnr = {}
    for row in rows:
        if row.error:
            continue
        base = work / f"out_{row.base.split('@')[0]}_{row.size}.npy"
        mine = work / f"out_{row.key}_{row.size}.npy"
        if base.is_file() and mine.is_file():
            row.max_abs_diff = float(np.abs(np.load(base) - np.load(mine)).max())
        fp32 = work / f"out_c_{row.size}.npy"
        if row.key == "e" and fp32.is_file():
            int8_psnr[row.size] = row.extra["psnr_vs_c_db"] = psnr(np.load(fp32), np.load(mine))
    audit = None
    if "c" in paths and "e" in paths:  # the audit's accuracy, on images calibration never saw
        made = subprocess.run([sys.executable, "-m", "bench.audit_int8", "--work", str(work), "--fp32", paths["c"],
                               "--int8", paths["e"], "--size", args.audit_size], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True)
        audit = json.loads(made.stdout.strip().splitlines()[-1]) if made.returncode == 0 else None
    info = machine()
    info["load_avg_before"] = [round(v, 2) for v in load_before]
    text = [f"IFAN CPU benchmark: {info['cpu']}, {info['cores']} cores, {info.get('ram_gib', '?')} GiB RAM, "
            f"onnxruntime {info['onnxruntime']}, {args.threads} threads, median of {args.runs} runs after "
            f"{args.warmup} warm-up; load average before/after: {info['load_avg_before'][0]:.2f} / "
            f"{info['load_avg'][0]:.2f}",
            f"floor: {gemm['cpu']} ({', '.join(gemm['isa']) or 'no AVX2/AVX-512/VNNI'}): FP32 GEMM "
            f"{rates['fp32'] / 1e9:.0f} GFLOP/s, u8s8 GEMM {rates['int8'] / 1e9:.0f} GOP/s (ONNX Runtime, "
            f"{gemm['n']}^3, best of {gemm['repeats']}); floor s = the row's MACs at those rates",
            "", format_table(TABLE_HEADER, table_rows(rows)), ""]
    for size, value in int8_psnr.items():
        text.append(f"e vs c (INT8 vs FP32 graph) on the bench input at {size}: PSNR {value:.1f} dB")
    if audit:
        text.append(f"audit (ifan_trt.calib.audit) of e vs c on {audit['images']} synthetic images at {audit['size']} "
                    f"not used in calibration: worst PSNR {audit['worst_psnr']:.1f} dB, mean SSIM "
                    f"{audit['mean_ssim']:.4f}, max abs error {audit['max_abs_error']:.1e}, error relative to the "
                    f"network's own change {100 * (audit['correction_error'] or 0):.1f}%")
    targets = []
    for size in args.sizes.split(","):
        by_key = {r.key: r for r in rows if r.size == size}
        fastest = [r for r in rows if r.size == size and r.key in ("f-ours", "f-native") and not r.error]
        if fastest:
            by_key["f-best"] = min(fastest, key=lambda r: r.seconds)
        targets += check_targets(by_key, size, audit["worst_psnr"] if audit else int8_psnr.get(size))
        targets += floor_targets(by_key, size)
    text += ["", format_targets(targets), "", f"total bench time {time.time() - start:.0f} s"]
    report = "\n".join(text)
    print(report)
    write_bytes(out_dir / "cpu_speed.md", report + "\n", overwrite=True)  # a re-run replaces its report
    write_bytes(out_dir / "cpu_speed.json", json.dumps(
        {"machine": info, "args": vars(args), "ort_options": BEST_ORT, "int8_audit": audit, "gemm_rates": gemm,
         "macs": macs,
         "rows": [dict(vars(r), id=r.id) for r in rows]}, indent=1, default=str) + "\n", overwrite=True)
    plot(rows, out_dir / "cpu_speed.png", f"{info['cpu']}, {args.threads} threads, median of {args.runs} runs; "
         f"load average {info['load_avg_before'][0]:.2f} before, {info['load_avg'][0]:.2f} after")
    return 0 if all(not r.error for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
