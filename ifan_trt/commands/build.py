"""`ifan build` (and `build_engine.py`): a strongly typed TensorRT engine from an IFAN ONNX export.

The command checks everything that needs no TensorRT first (options, shapes against the graph,
the output path), has the graph of the requested precision prepared on the CPU
(ifan_trt.calib.prepare.graph_for), then hands it to the TensorRT steps
(ifan_trt.runtime.tensorrt.build). --help and the option checks work without TensorRT.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from ifan_trt.precisions import ENGINE as PRECISIONS, HALF
from ifan_trt.errors import IfanError
from ifan_trt.files import check_not_input, check_output_file, require_regular_file, same_file
from ifan_trt.options import add_decode_budget, int_range
from ifan_trt.runtime.optimization_profiles import DEFAULT_SHAPES, check_against_graph, parse_profiles

from . import args as arg_groups
from ifan_trt.contract import META
from ifan_trt.sizes import parse_model_size

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)


def register(subparsers) -> None:
    p = arg_groups.add_command(subparsers, "build", "build a TensorRT engine (FP32/FP16/INT8) from an ONNX export",
                               __doc__.split("\n\n")[0], run)
    add_arguments(p)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--onnx", type=Path, required=True, help="IFAN ONNX export (FP32, or already FP16/INT8)")
    arg_groups.add_output(p, "engine file to write (a .json sidecar goes beside it)", required=True, metavar="ENGINE")
    p.add_argument("--precision", choices=PRECISIONS,
                   help="engine precision; an FP32 graph is converted first (default: the graph's own)")
    arg_groups.add_calibration(p, images_help="images for INT8 calibration (and FP16 measurement; default "
                                              "there: the bundled samples)", count=32)
    p.add_argument("--shapes", action="append", metavar="min=NxCxHxW,opt=...,max=...",
                   help=f"one optimisation profile (repeat for more); HxW means batch 1 (default: {DEFAULT_SHAPES})")
    arg_groups.add_plugin(p)
    p.add_argument("--workspace", default="2G", help="builder workspace limit, e.g. 512M, 4G (default: %(default)s)")
    arg_groups.add_json(p, "the build report (the sidecar)")
    p.add_argument("--timing-cache", type=Path, help="timing cache file: read if present, updated after the build")
    p.add_argument("--builder-optimization-level", type=int_range(0, 5), metavar="0-5",
                   help="TensorRT builder optimisation level (TensorRT's default: 3)")
    p.add_argument("--version-compatible", action="store_true",
                   help="version-compatible engine; the plugin library is serialised into the plan")
    p.add_argument("--iac-split", choices=IAC_SPLIT_MODES, default="auto",
                   help="build the IAC as one IFAN_IAC layer per iteration, each fed by its own slice of the "
                        "filter conv, so the filters F are never written: auto when that lowers the peak of "
                        "live activations at the largest profile shape, on, off (default: %(default)s)")
    arg_groups.add_overwrite(p)
    add_decode_budget(p)
    p.add_argument("--no-tf32", dest="tf32", action="store_false",
                   help="FP32 layers without TF32 math (Ampere and newer use TF32 by default, as TensorRT does)")


def parse_workspace(text: str) -> int:
    """'512M', '4G', '1.5g', plain numbers in MiB -> bytes."""
    m = _SIZE.match(str(text))
    if not m:
        raise IfanError(f"--workspace {text!r}: expected a size such as 512M or 4G")
    value, unit = float(m.group(1)), (m.group(2) or "m").lower()
    size = int(value * {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[unit])
    if size < (1 << 20):
        raise IfanError(f"--workspace {text}: at least 1M")
    return size


IAC_SPLIT_MODES = ("auto", "on", "off")
_NOT_SPLITTABLE = {"standard ops": "no IFAN_IAC plugin node (its IAC is standard ONNX ops)",
                   "split": "already in the split IAC form"}


@dataclass
class IacForm:
    """The IAC form an engine is built with, as --iac-split chose it."""
    rewrite: bool  # the one-node plugin graph is rewritten into the split form for the build
    split: bool  # the engine holds the split form (rewritten, or exported so)
    peaks: dict | None  # the sidecar's peak_live_bytes
    lines: list[str]  # what the build prints


def iac_kind(model) -> str:
    """ "one-node" (one IFAN_IAC plugin node), "split" (one per iteration) or "standard ops"."""
    from ifan_trt.export import graph as graphs

    plugins = graphs.plugin_nodes(model)
    if not plugins:
        return "standard ops"
    return "split" if len(plugins) > 1 or graphs.metadata(model).get(META.iac_split) == "true" else "one-node"


def choose_iac_form(model, mode: str, profiles, precision: str, onnx) -> IacForm:
    """--iac-split MODE for this graph. auto: a one-node plugin graph is split when the split form
    lowers the peak of live activations (export/liveness.py) at the largest profile shape, counted
    in FP16 for an FP32 graph that becomes FP16; on: always (one-line error where it cannot be);
    off: never. Other graphs are built as they are."""
    from ifan_trt.export.graph import graph_precision
    from ifan_trt.export.liveness import split_gain

    b, _, h, w = max((p.max for p in profiles), key=lambda s: s[0] * s[2] * s[3])
    half = precision in HALF and graph_precision(model) == "fp32"
    at = ((h, w), b, "float16" if half else None)
    kind = iac_kind(model)
    error = None
    try:
        gain = split_gain(model, *at) if kind == "one-node" else {"lowers": False, "why": _NOT_SPLITTABLE[kind]}
    except Exception as exc:  # noqa: BLE001  a report: never the reason a build fails
        gain, error = {"lowers": False}, _first_line(exc)
    if mode == "on" and gain.get("why"):
        raise IfanError(f"--iac-split on: {onnx}: {gain['why']}; the build splits one IFAN_IAC plugin node of "
                        "N > 1 iterations fed by a 1x1 conv (`ifan export --iac plugin`, FP32 or FP16)")
    rewrite = not gain.get("why") and (mode == "on" or (mode == "auto" and gain["lowers"]))
    split = rewrite or kind == "split"
    try:
        if error is None:
            return IacForm(rewrite, split, *_peaks(model, gain, kind, split, mode, at))
    except Exception as exc:  # noqa: BLE001
        error = _first_line(exc)
    return IacForm(rewrite, split, None, [f"warning: no peak memory report for this graph: {error}"])


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc).strip() else repr(exc)


def _peaks(model, gain: dict, kind: str, split: bool, mode: str, at) -> tuple[dict, list[str]]:
    """(peak_live_bytes for the sidecar, the peak line and the IAC-form line) of the chosen form."""
    from ifan_trt.export.liveness import format_peak, peak_report

    reports = {f: gain[f] for f in ("one_node", "split") if f in gain}
    if not reports:  # nothing to compare: the graph's own peak
        reports = {{"one-node": "one_node", "split": "split"}.get(kind, "as_built"): peak_report(model, *at)}
    built = reports.get("split" if split else "one_node") or reports["as_built"]
    peaks = {"input_shape": built["input_shape"], "activation_dtype": built["activation_dtype"],
             **{f: reports[f]["peak_bytes"] if f in reports else None for f in ("one_node", "split")}}
    mb = lambda report: f"{report['peak_bytes'] / 1e6:.1f} MB"  # noqa: E731
    notes = [f"{f.replace('_', '-')} {mb(r)}" for f, r in reports.items() if r is not built]
    if kind == "one-node":
        notes += [f"not split: {gain['why']}"] if gain.get("why") else []
        notes += [f"--iac-split {mode}"] if mode != "auto" else []
    name = {"standard ops": "standard ONNX ops", "split": "split, as exported"}.get(kind, "split" if split else "one-node")
    return peaks, [format_peak(built), f"IAC form: {name} (peak {mb(built)}{''.join(f', {n}' for n in notes)})"]


def run(args) -> int:
    from ifan_trt.calib.prepare import graph_for
    from ifan_trt.export import graph as graphs
    from ifan_trt.runtime.tensorrt import build as trt_build

    # everything that needs no TensorRT is checked first: bad options fail fast anywhere
    profiles = parse_profiles(args.shapes)
    workspace = parse_workspace(args.workspace)
    calib_size = parse_model_size(args.calib_size, "--calib-size")
    from ifan_trt.models import ModelRef, is_default

    if is_default(args.onnx):  # the bundled model's FP32 export
        args.onnx = ModelRef.parse(args.onnx, "onnx", "--onnx").path
    check_outputs(args)
    source = graphs.load_model(args.onnx)
    if graphs.metadata(source).get(META.int8_target) == "cpu":
        raise IfanError(f"{args.onnx}: is the INT8 graph for ONNX Runtime's CPU provider (asymmetric UINT8); "
                        "TensorRT needs `ifan calibrate` without --target cpu")
    has_plugin = bool(graphs.plugin_nodes(source))
    inputs = trt_build.graph_inputs(source)
    for name, dims in inputs:
        check_against_graph(profiles, name, dims)

    want = args.precision or graphs.graph_precision(source)
    form = choose_iac_form(source, args.iac_split, profiles, want, args.onnx)
    trt = trt_build.probe_tensorrt(want, has_plugin, args.version_compatible, args.builder_optimization_level)
    onnx_path, precision, metadata = graph_for(args.onnx, args.output, args.precision, args.calib_images,
                                               args.calib_method, args.calib_count, calib_size, source=source,
                                               overwrite=getattr(args, "overwrite", False), iac_split=form.rewrite)
    print("\n".join(form.lines), file=sys.stderr)
    plugin_lib = None
    if has_plugin or args.plugin is not None:
        from ifan_trt.runtime.tensorrt.plugin_library import load_plugin

        plugin_lib = Path(load_plugin(Path(args.plugin) if args.plugin else None))
    trt_build.build_engine(
        trt, onnx_path=onnx_path, output=args.output, precision=precision, profiles=profiles,
        inputs=[n for n, _ in inputs], source_onnx=args.onnx, metadata=metadata,
        workspace=workspace, plugin_lib=plugin_lib, optimization_level=args.builder_optimization_level,
        version_compatible=args.version_compatible, timing_cache=args.timing_cache, tf32=args.tf32,
        overwrite=getattr(args, "overwrite", False), iac_split=form.split, peak_live_bytes=form.peaks)
    if getattr(args, "json", None):
        import json

        from ifan_trt.reports import write_json

        write_json(args.json, {"engine": str(args.output), **json.loads(Path(f"{args.output}.json").read_text())})
    return 0


def check_outputs(args) -> None:
    """Before any preparation: the engine and its sidecar are new (or --overwrite) and no input."""
    if not args.onnx.exists():
        raise IfanError(f"{args.onnx}: no such ONNX file")
    require_regular_file(args.onnx, "--onnx")
    if same_file(args.output, args.onnx):
        raise IfanError(f"{args.output}: is the input ONNX; choose another engine path")
    inputs = [args.onnx, args.plugin, args.timing_cache]
    for path in (args.output, Path(f"{args.output}.json")):
        check_not_input(path, inputs, [args.calib_images])
        check_output_file(path, getattr(args, "overwrite", False))
    if getattr(args, "json", None) and Path(args.json).resolve() == Path(f"{args.output}.json").resolve():
        raise IfanError(f"--json {args.json}: is the engine's sidecar; choose another file")
    if getattr(args, "json", None):
        arg_groups.check_json(args, inputs + [args.output], [args.calib_images])
