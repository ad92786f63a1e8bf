"""`ifan benchmark`: every precision of one model in one table (see ifan_trt.benchmark)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from ifan_trt.errors import IfanError


def register(subparsers) -> None:
    from ifan_trt.benchmark import PRECISIONS

    p = subparsers.add_parser(
        "benchmark", help="every precision of a model: size, latency, PSNR/SSIM in one table",
        description="Prepare FP32, FP16, INT8, INT8+FP16 and CPU-INT8 graphs of one model (and TensorRT engines "
                    "where TensorRT and a GPU are present), run each, and write one table: terminal, "
                    "benchmark.md, benchmark.csv, benchmark.json, benchmark.png. Finished rows are reused.")
    model = p.add_mutually_exclusive_group()
    model.add_argument("--checkpoint", help="checkpoint to export first, or 'default' (the default: the bundled model)")
    model.add_argument("--onnx", help="FP32 ONNX export to start from ('default': the bundled one)")
    p.add_argument("--data", required=True, type=Path,
                   help="test set with ground truth: source/target (as `ifan synth` writes), DPDD or RealDOF")
    p.add_argument("--shape", default="1x3x384x512", metavar="BxCxHxW", help="latency shape (default %(default)s)")
    p.add_argument("--precisions", nargs="+", choices=PRECISIONS, default=list(PRECISIONS),
                   help="precisions to prepare and run (default: all; fp32 always runs, it is the reference)")
    p.add_argument("--out-dir", required=True, type=Path, help="folder for the models, outputs and reports")
    p.add_argument("--calib-images", type=Path,
                   help="calibration/measurement images (default: --data's sources; better a separate set)")
    p.add_argument("--calib-count", type=int, default=32, help="calibration images (default %(default)s)")
    p.add_argument("--calib-size", default="256x256", metavar="HxW", help="calibration crop (default %(default)s)")
    p.add_argument("--warmup", type=int, default=2, help="untimed runs first (default %(default)s)")
    p.add_argument("--iterations", type=int, default=10, help="timed runs per model (default %(default)s)")
    p.add_argument("--limit", type=int, help="only the first N image pairs")
    p.add_argument("--threads", type=int, help="CPU threads for ONNX Runtime")
    p.add_argument("--device", default="cpu", help="ONNX Runtime device: cpu, cuda, tensorrt (default %(default)s)")
    p.add_argument("--no-engines", action="store_true", help="skip TensorRT engines even where a GPU is present")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write benchmark.json's content here")
    p.set_defaults(func=run)


def run(args) -> int:
    from ifan_trt.benchmark import HEADER, Settings, caption, run_benchmark, table_rows, write_reports
    from ifan_trt.calib.images import parse_size
    from ifan_trt.calib.table import format_table
    from ifan_trt.runtime.profiler import parse_shape

    if args.warmup < 0 or args.iterations < 1 or (args.limit is not None and args.limit < 1):
        raise IfanError("--warmup must be >= 0, --iterations and --limit >= 1")
    if args.out_dir.exists() and not args.out_dir.is_dir():
        raise IfanError(f"{args.out_dir}: exists and is not a folder (--out-dir)")
    settings = Settings(data=args.data, out_dir=args.out_dir, shape=parse_shape(args.shape),
                        precisions=tuple(args.precisions), calib_images=args.calib_images,
                        calib_count=args.calib_count, calib_size=parse_size(args.calib_size), warmup=args.warmup,
                        iterations=args.iterations, limit=args.limit, threads=args.threads, device=args.device,
                        build_engines=False if args.no_engines else None, progress=sys.stderr.isatty())
    bench = run_benchmark(settings, checkpoint=args.checkpoint, onnx=args.onnx)
    print(format_table(list(HEADER), table_rows(bench)))
    print(caption(bench))
    reused = sum(bool(r.get("reused")) for r in bench.rows)
    if reused:
        print(f"{reused} row(s) reused from the previous run (same model files, data and settings)")
    png = importlib.util.find_spec("matplotlib") is not None
    if not png:
        print("ifan benchmark: no PNG without matplotlib (pip install 'ifan-trt[plot]')", file=sys.stderr)
    for path in write_reports(bench, png):
        print(f"wrote {path}")
    if args.json:
        from ifan_trt.imageio import write_bytes_atomic

        write_bytes_atomic(args.json, (args.out_dir / "benchmark.json").read_bytes())
    return 0
