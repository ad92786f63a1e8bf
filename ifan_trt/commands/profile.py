"""`ifan profile`: end-to-end latency of one or several models (ONNX, engine, checkpoint) with a
per-stage breakdown, compared in one report (terminal table, JSON, CSV, PNG)."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

from ifan_trt.errors import IfanError
from ifan_trt.log import get as get_logger
from ifan_trt.files import check_not_input, check_output_file, check_output_folder
from ifan_trt.options import float_range, int_range

from . import args as arg_groups


def register(subparsers) -> None:
    p = arg_groups.add_command(subparsers, "profile", "measure end-to-end latency per stage (compare several models)",
                               "Measure end-to-end latency (decode, preprocess, H2D, compute, D2H, postprocess) of "
                               "each model given; all are compared in one report.", run)
    arg_groups.add_model(p, repeat=True, backend=False, title="models (each runs on its own backend)")
    p.add_argument("--shape", action="append", metavar="BxCxHxW",
                   help="input shape (default 1x3x720x1280); repeat to profile every model at several shapes")
    p.add_argument("--warmup", type=int_range(0, 100000), default=3, help="untimed runs first (default 3)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--iterations", type=int_range(1, 10_000_000), default=None, help="timed runs (default 20)")
    group.add_argument("--duration", type=float_range(0.0, 86400.0, low_open=True), help="time each model for this many seconds instead")
    p.add_argument("--no-layers", dest="layers", action="store_false",
                   help="skip the per-layer pass (engines: TensorRT's IProfiler, after the timed runs)")
    arg_groups.add_json(p)
    p.add_argument("--csv", metavar="FILE", help="write one CSV row per model")
    p.add_argument("--png", metavar="FILE", help="write the latency histogram and stage breakdown")
    p.add_argument("--out-dir", metavar="DIR", help="write profile.json, profile.csv and profile.png here")
    arg_groups.add_overwrite(p)


def _models(args) -> list[tuple[str, str, dict]]:
    models = [(m, "onnxruntime", {"onnx": m}) for m in args.onnx]
    models += [(m, "tensorrt", {"engine": m}) for m in args.engine]
    models += [(m, "torch", {"checkpoint": m}) for m in args.checkpoint]
    if not models:
        raise IfanError("nothing to profile: pass --onnx MODEL, --engine ENGINE or --checkpoint CKPT (repeatable)")
    return models


def _labels(paths: list[str]) -> list[str]:
    """File names, or longer paths where names repeat."""
    names = [Path(p).name for p in paths]
    return [p if names.count(n) > 1 else n for p, n in zip(paths, names)]


def run(args: argparse.Namespace) -> int:
    from ifan_trt.runtime.backends import open_executor
    from ifan_trt.runtime.profile_report import table, write_reports
    from ifan_trt.runtime.profiler import parse_shape, profile

    shapes = [parse_shape(text) for text in (args.shape or ["1x3x720x1280"])]
    iterations = args.iterations or 20
    models = _models(args)
    arg_groups.check_model_options(args)
    reports = _report_paths(args, [m[0] for m in models])
    results = []
    for label, (path, backend, kwargs) in zip(_labels([m[0] for m in models]), models):
        with open_executor(backend, threads=args.threads, device=args.device, plugin=args.plugin,
                           in_bit=args.in_bit, iac_mode=args.iac_mode, **kwargs) as executor:
            for shape in shapes:
                text = "x".join(map(str, shape))
                print(f"profiling {label} ({executor.describe()}) at {text}", file=sys.stderr)
                name = label if len(shapes) == 1 else f"{label} @{text}"
                results.append(profile(executor, shape, name, warmup=args.warmup, iterations=iterations,
                                       duration=args.duration, layers=args.layers, progress=sys.stderr.isatty()))
    print(table(results))
    if args.out_dir:
        Path(args.out_dir).mkdir(parents=True, exist_ok=True)
    for path in write_reports(results, *reports, overwrite=args.overwrite):
        print(f"wrote {path}")
    return 0


def _report_paths(args, models: list[str]) -> tuple:
    """(json, csv, png) paths, checked before any model runs: new unless --overwrite, no model."""
    out = Path(args.out_dir) if args.out_dir else None
    if out is not None:
        check_output_folder(out, label=f"--out-dir {out}")
    pick = lambda given, name: given or (out / name if out else None)
    paths = [pick(args.json, "profile.json"), pick(args.csv, "profile.csv"), pick(args.png, "profile.png")]
    if paths[2] and not args.png and importlib.util.find_spec("matplotlib") is None:
        get_logger(__name__).warning("no PNG without matplotlib (pip install 'ifan-trt[plot]')")
        paths[2] = None
    for i, (flag, path) in enumerate(zip(("--json", "--csv", "--png"), paths)):
        if path:
            check_not_input(path, models + [p for j, p in enumerate(paths) if p and j < i], what=flag)
            check_output_file(path, args.overwrite, create_parent=out is not None, what=flag)
    return tuple(paths)
