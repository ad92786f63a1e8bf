"""`ifan profile`: end-to-end latency of one or several models (ONNX, engine, checkpoint) with a
per-stage breakdown, compared in one report (terminal table, JSON, CSV, PNG). The job:
ifan_trt.jobs.profile."""

from __future__ import annotations

import argparse
from pathlib import Path

from ifan_trt.commands.options import float_range

from . import args as arg_groups
from .progress import bars


def register(subparsers) -> None:
    p = arg_groups.add_command(subparsers, "profile", "measure end-to-end latency per stage (compare several models)",
                               "Measure end-to-end latency (decode, preprocess, H2D, compute, D2H, postprocess) of "
                               "each model given; all are compared in one report.", run)
    arg_groups.add_model(p, repeat=True, backend=False, title="models (each runs on its own backend)")
    arg_groups.add_size(p, "--shape", "input shape (default 1x3x720x1280); repeat to profile every model at several "
                                      "shapes", metavar="BxCxHxW", action="append")
    group = arg_groups.add_timing(p)
    group.add_argument("--duration", type=float_range(0.0, 86400.0, low_open=True), help="time each model for this many seconds instead")
    p.add_argument("--no-layers", dest="layers", action="store_false",
                   help="skip the per-layer pass (engines: TensorRT's IProfiler, after the timed runs)")
    p.add_argument("--power", choices=("auto", "off"), default="auto",
                   help="Jetson: sample the board's power rails (INA3221, or jtop) during the timed runs and "
                        "report watts and millijoules per frame with the power mode and clock lock (default: auto, "
                        "where the rails are readable)")
    arg_groups.add_json(p)
    p.add_argument("--csv", type=Path, metavar="FILE", help="write one CSV row per model")
    p.add_argument("--png", metavar="FILE", help="write the latency histogram and stage breakdown")
    p.add_argument("--out-dir", type=Path, metavar="DIR", help="write profile.json, profile.csv and profile.png here")
    arg_groups.add_overwrite(p)


def run(args: argparse.Namespace) -> int:
    from ifan_trt.jobs.profile import ProfileRequest, profile
    from ifan_trt.runtime.measure.profiler import parse_shape

    arg_groups.check_model_options(args)
    report = profile(ProfileRequest(
        tuple(args.onnx), tuple(args.engine), tuple(args.checkpoint),
        tuple(parse_shape(text) for text in (args.shape or ["1x3x720x1280"])), args.warmup, args.iterations,
        args.duration, args.layers, args.power == "auto", args.device, args.threads, args.plugin, args.in_bit,
        args.iac_mode, args.json, args.csv, args.png, args.out_dir, args.overwrite, progress=bars(),
        names=arg_groups.flag))
    print(report.table())
    for name, why in report.skipped.items():
        print(f"{name}: not profiled: {why}")
    for path in report.written:
        print(f"wrote {path}")
    return 0
