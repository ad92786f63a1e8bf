"""`ifan benchmark`: every precision of one model in one table (ifan_trt.jobs.benchmark does the
work; ifan_trt.runtime.measure.benchmark writes the reports)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from ifan_trt.commands.progress import bars
from ifan_trt.errors import IfanError
from ifan_trt.jobs.benchmark import BenchmarkRequest, benchmark
from ifan_trt.log import get as get_logger
from ifan_trt.commands.options import positive_int
from ifan_trt.precisions import NAMES as PRECISIONS

from . import args as arg_groups



def register(subparsers) -> None:
    p = arg_groups.add_command(subparsers, "benchmark", "every precision of a model: size, latency, PSNR/SSIM in one table",
                               "Prepare FP32, FP16, INT8, INT8+FP16 and CPU-INT8 graphs of one model (and TensorRT "
                               "engines where TensorRT and a GPU are present), run each, and write one table: "
                               "terminal, benchmark.md, benchmark.csv, benchmark.json, benchmark.png. Finished rows "
                               "are reused.", run)
    arg_groups.add_model(p, kinds=("checkpoint", "onnx"), backend=False, device="cpu", checkpoint_options=False,
                         description="none given: the bundled model; a checkpoint is exported first")
    p.add_argument("--data", required=True, type=Path, metavar="DIR",
                   help="test set with ground truth: source/target (as `ifan synth` writes), DPDD or RealDOF")
    arg_groups.add_size(p, "--shape", "latency shape", "1x3x384x512", metavar="BxCxHxW")
    p.add_argument("--precisions", nargs="+", choices=PRECISIONS, default=list(PRECISIONS),
                   help="precisions to prepare and run (default: all; fp32 always runs, it is the reference)")
    p.add_argument("--out-dir", required=True, type=Path, metavar="DIR", help="folder for the models, outputs and reports")
    arg_groups.add_calibration(p, images_help="calibration/measurement images (default: --data's sources; better "
                                              "a separate set)", method=False)
    arg_groups.add_timing(p)
    p.add_argument("--limit", type=positive_int, metavar="N", help="only the first N image pairs")
    p.add_argument("--no-engines", action="store_true", help="skip TensorRT engines even where a GPU is present")
    arg_groups.add_json(p, "benchmark.json's content", stdout=True)
    arg_groups.add_overwrite(p)


def run(args) -> int:
    from ifan_trt.runtime.measure.benchmark import HEADER, caption, engines_note, table_rows, write_reports
    from ifan_trt.sizes import parse_tensor_shape
    from ifan_trt.table import format_table

    if args.out_dir.exists() and not args.out_dir.is_dir():
        raise IfanError(f"{args.out_dir}: exists and is not a folder (--out-dir)")
    arg_groups.check_json(args, [args.onnx, args.checkpoint, args.out_dir / "benchmark.json"], [args.data])
    bench = benchmark(BenchmarkRequest(
        data=args.data, out_dir=args.out_dir, checkpoint=args.checkpoint, onnx=args.onnx,
        shape=parse_tensor_shape(args.shape, "--shape"), precisions=tuple(args.precisions),
        calib_images=args.calib_images, calib_count=arg_groups.calib_count(args),
        calib_size=arg_groups.calib_size(args), size_option="--calib-size", warmup=args.warmup, iterations=arg_groups.iterations(args),
        limit=args.limit, threads=args.threads, device=args.device, build_engines=False if args.no_engines else None,
        progress=bars()))
    print(format_table(list(HEADER), table_rows(bench)))
    print(caption(bench))
    note = engines_note(bench)
    if note:
        print(note)
    reused = sum(bool(r.get("reused")) for r in bench.rows)
    if reused:
        print(f"{reused} row(s) reused from the previous run (same model files, data and settings)")
    png = importlib.util.find_spec("matplotlib") is not None
    if not png:
        get_logger(__name__).warning("no PNG without matplotlib (pip install 'ifan-trt[plot]')")
    for path in write_reports(bench, png):
        print(f"wrote {path}")
    if args.json:
        from ifan_trt.files import write_bytes
        from ifan_trt.reports import to_stdout

        data = (args.out_dir / "benchmark.json").read_bytes()
        sys.stdout.write(data.decode()) if to_stdout(args.json) else write_bytes(args.json, data, overwrite=args.overwrite)
    return 0


