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
    p.add_argument("--power", choices=("auto", "off"), default="auto",
                   help="Jetson: sample the board's power rails (INA3221, or jtop) during the timed runs and "
                        "report watts and millijoules per frame with the power mode and clock lock (default: auto, "
                        "where the rails are readable)")
    arg_groups.add_json(p)
    p.add_argument("--csv", metavar="FILE", help="write one CSV row per model")
    p.add_argument("--png", metavar="FILE", help="write the latency histogram and stage breakdown")
    p.add_argument("--out-dir", metavar="DIR", help="write profile.json, profile.csv and profile.png here")
    arg_groups.add_overwrite(p)


def _models(args) -> list[tuple[str, str, dict]]:
    """(name as given, backend, open_executor's model argument) of every model, each checked
    before any work: the file exists and is readable (`default`: the bundled one), and an
    engine's sidecar is there and valid."""
    from ifan_trt.runtime.executors.backends import named_model
    from ifan_trt.runtime.model_files.sidecar import read_sidecar

    models = []
    for kind, backend in (("onnx", "onnxruntime"), ("engine", "tensorrt"), ("checkpoint", "torch")):
        for given in getattr(args, kind):
            path = named_model(kind, given)
            if kind == "engine":
                read_sidecar(path)
            models.append((given, backend, {kind: path}))
    if not models:
        raise IfanError("nothing to profile: pass --onnx MODEL, --engine ENGINE or --checkpoint CKPT (repeatable)")
    return models


def _runnable(models: list[tuple[str, str, dict]]) -> tuple[list, dict[str, str]]:
    """(the models that can run here, {engine: why not}): engines need TensorRT and a GPU; the
    reason is said once, and the other models are still profiled."""
    engines = [m[0] for m in models if m[1] == "tensorrt"]
    if not engines:
        return models, {}
    from ifan_trt.runtime.executors.backends import engines_unavailable

    why = engines_unavailable()
    if why is None:
        return models, {}
    runnable = [m for m in models if m[1] != "tensorrt"]
    if not runnable:
        raise IfanError(f"{', '.join(engines)}: cannot profile an engine here: {why}")
    print(f"ifan profile: warning: no engine rows ({', '.join(engines)}): {why}", file=sys.stderr)
    return runnable, {name: why for name in engines}


def _labels(paths: list[str]) -> list[str]:
    """File names, or longer paths where names repeat."""
    names = [Path(p).name for p in paths]
    return [p if names.count(n) > 1 else n for p, n in zip(paths, names)]


def run(args: argparse.Namespace) -> int:
    from ifan_trt.runtime.executors.backends import open_executor
    from ifan_trt.runtime.measure.profile_report import table, write_reports
    from ifan_trt.runtime.measure.profiler import parse_shape, profile

    shapes = [parse_shape(text) for text in (args.shape or ["1x3x720x1280"])]
    iterations = args.iterations or 20
    arg_groups.check_model_options(args)
    models = _models(args)
    reports = _report_paths(args, [m[0] for m in models])
    models, skipped = _runnable(models)
    sampler, board = None, None
    if args.power == "auto":
        from ifan_trt.runtime.measure.power import board_state, open_sampler, state_line

        sampler = open_sampler()
        if sampler is not None:
            board = state_line(board_state())
            print(f"power: sampling {sampler.source} rails; {board}", file=sys.stderr)
    results = []
    for label, (path, backend, kwargs) in zip(_labels([m[0] for m in models]), models):
        with open_executor(backend, threads=args.threads, device=args.device, plugin=args.plugin,
                           in_bit=args.in_bit, iac_mode=args.iac_mode, **kwargs) as executor:
            for shape in shapes:
                text = "x".join(map(str, shape))
                print(f"profiling {label} ({executor.describe()}) at {text}", file=sys.stderr)
                name = label if len(shapes) == 1 else f"{label} @{text}"
                result = profile(executor, shape, name, warmup=args.warmup, iterations=iterations,
                                 duration=args.duration, layers=args.layers, progress=sys.stderr.isatty(),
                                 power=sampler)
                if result.power is not None:
                    result.power["board"] = board
                results.append(result)
    if sampler is not None:
        sampler.close()
    print(table(results))
    for name, why in skipped.items():
        print(f"{name}: not profiled: {why}")
    if args.out_dir:
        Path(args.out_dir).mkdir(parents=True, exist_ok=True)
    for path in write_reports(results, *reports, overwrite=args.overwrite, skipped=skipped):
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
