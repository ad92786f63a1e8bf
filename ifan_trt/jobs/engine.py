"""Build a TensorRT engine from an IFAN ONNX export: everything that needs no TensorRT is checked
first (the request, shapes against the graph, the output paths), the precision is decided once,
the IAC form chosen by the peak of live activations, the graph of that precision prepared on the
CPU (calib.prepare.graph_for), then the TensorRT steps run (runtime.tensorrt.build)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ifan_trt import precisions
from ifan_trt.contract import META
from ifan_trt.errors import IfanError
from ifan_trt.files import check_not_input, check_output_file, require_regular_file, same_file
from ifan_trt.log import get as get_logger
from ifan_trt.models import ModelRef
from ifan_trt.jobs.requests import Naming, as_is
from ifan_trt.progress import Bars
from ifan_trt.runtime.model_files.optimization_profiles import (ProfileShapes, check_against_graph, frame_layout,
                                                                parse_profiles)

log = get_logger(__name__)

IAC_SPLIT_MODES = ("auto", "on", "off")
DEFAULT_WORKSPACE = 2 << 30
_NOT_SPLITTABLE = {"standard ops": "no IFAN_IAC plugin node (its IAC is standard ONNX ops)",
                   "split": "already in the split IAC form"}


@dataclass(frozen=True)
class BuildRequest:
    """One engine build. onnx: an IFAN export (`default`: the bundled one); precision: a buildable
    name of ifan_trt.precisions (None: the graph's own); shapes: optimisation profiles as
    `min=BxCxHxW,opt=...,max=...` texts or HxW (None: the default profile)."""
    onnx: str | os.PathLike
    output: str | os.PathLike
    precision: str | None = None
    shapes: tuple[str, ...] | None = None
    calib_images: str | os.PathLike | None = None
    calib_method: str = "percentile"
    calib_count: int = 32
    calib_size: tuple[int, int] | None = None  # None: a fixed-size graph's own HxW, else 256x256
    size_option: str = field(default="calib_size", compare=False)  # how errors name calib_size (the CLI: its flag)
    workspace: int = DEFAULT_WORKSPACE  # bytes
    plugin: str | os.PathLike | None = None
    timing_cache: str | os.PathLike | None = None
    optimization_level: int | None = None
    version_compatible: bool = False
    iac_split: str = "auto"
    tf32: bool = True
    overwrite: bool = False
    report: str | os.PathLike | None = None  # a JSON report path, checked with the outputs
    dla_core: int | None = None  # build for this DLA core with GPU fallback (Jetson AGX Orin, Orin NX)
    names: Naming = field(default=as_is, compare=False)  # how messages name the fields (the CLI: its flags)
    progress: Bars | None = field(default=None, compare=False)  # bars for calibration (ifan_trt.progress)


@dataclass(frozen=True)
class BuildResult:
    engine: Path
    sidecar: dict  # what was written beside the engine (<engine>.json)
    onnx: Path  # the graph TensorRT built (prepared beside the engine, or the source itself)


@dataclass
class IacForm:
    """The IAC form an engine is built with, as iac_split chose it."""
    rewrite: bool  # the one-node plugin graph is rewritten into the split form for the build
    split: bool  # the engine holds the split form (rewritten, or exported so)
    peaks: dict | None  # the sidecar's peak_live_bytes
    lines: list[str]  # what the build reports


def build_engine(request: BuildRequest) -> BuildResult:
    from ifan_trt.calib.prepare import graph_for
    from ifan_trt.export import graph as graphs
    from ifan_trt.runtime.tensorrt import build as trt_build

    onnx = ModelRef.parse(request.onnx, "onnx", "onnx").path
    output = Path(request.output)
    if request.precision is not None:
        precisions.get(request.precision, "precision", precisions.ENGINE)
    if request.iac_split not in IAC_SPLIT_MODES:
        raise IfanError(f"iac_split {request.iac_split!r}: expected one of {', '.join(IAC_SPLIT_MODES)}")
    if request.workspace < (1 << 20):
        raise IfanError(f"workspace {request.workspace}: at least 1 MiB (1048576 bytes)")
    profiles = parse_profiles(list(request.shapes) if request.shapes else None)
    check_outputs(request, onnx, output)
    source = graphs.load_model(onnx)
    if graphs.metadata(source).get(META.int8_target) == "cpu":
        raise IfanError(f"{onnx}: is the INT8 graph for ONNX Runtime's CPU provider (asymmetric UINT8); "
                        "TensorRT needs the int8 or int8-fp16 graph")
    has_plugin = bool(graphs.plugin_nodes(source))
    inputs = graphs.input_dims(source)
    # a uint8 model takes the frame, [B,H,W,3] uint8 (TensorRT's UINT8 network I/O): the same shapes
    built_profiles = frame_layout(profiles) if graphs.metadata(source).get(META.io) == "uint8" else profiles
    for name, dims in inputs:
        check_against_graph(built_profiles, name, dims)

    want = request.precision or graphs.graph_precision(source)  # decided here, once
    form = choose_iac_form(source, request.iac_split, profiles, want, onnx)
    trt = trt_build.probe_tensorrt(want, has_plugin, request.version_compatible, request.optimization_level)
    if request.dla_core is not None:
        trt_build.check_dla(trt, request.dla_core, want)  # before any preparation
    onnx_path, precision, metadata = graph_for(onnx, output, want, request.calib_images, request.calib_method,
                                               request.calib_count, request.calib_size, source=source, size_option=request.size_option,
                                               overwrite=request.overwrite, iac_split=form.rewrite,
                                               progress=request.progress)
    for line in form.lines:
        (log.warning if line.startswith("warning: ") else log.info)(line.removeprefix("warning: "))
    plugin_lib = None
    if has_plugin or request.plugin is not None:
        from ifan_trt.runtime.tensorrt.plugin_library import load_plugin

        plugin_lib = Path(load_plugin(Path(request.plugin) if request.plugin else None))
    sidecar = trt_build.build_engine(
        trt, onnx_path=onnx_path, output=output, precision=precision, profiles=built_profiles,
        inputs=[n for n, _ in inputs], source_onnx=onnx, metadata=metadata,
        workspace=request.workspace, plugin_lib=plugin_lib, optimization_level=request.optimization_level,
        version_compatible=request.version_compatible,
        timing_cache=None if request.timing_cache is None else Path(request.timing_cache), tf32=request.tf32,
        overwrite=request.overwrite, iac_split=form.split, peak_live_bytes=form.peaks,
        **({"dla_core": request.dla_core} if request.dla_core is not None else {}))
    return BuildResult(output, sidecar, Path(onnx_path))


def check_outputs(request: BuildRequest, onnx: Path, output: Path) -> None:
    """Before any preparation: the engine and its sidecar are new (or overwrite) and no input."""
    require_regular_file(onnx, "onnx")
    if same_file(output, onnx):
        raise IfanError(f"{output}: is the input ONNX; choose another engine path")
    inputs = [onnx, request.plugin, request.timing_cache]
    for path in (output, Path(f"{output}.json")):
        check_not_input(path, inputs, [request.calib_images])
        check_output_file(path, request.overwrite)
    if request.report is not None and str(request.report) != "-":  # "-": standard output
        report = Path(request.report)
        name = request.names("report")
        if report.resolve() == Path(f"{output}.json").resolve():
            raise IfanError(f"{name} {report}: is the engine's sidecar; choose another file")
        check_not_input(report, inputs + [output], [request.calib_images], what=name)
        check_output_file(report, request.overwrite, what=name)


def iac_kind(model) -> str:
    """ "one-node" (one IFAN_IAC plugin node), "split" (one per iteration) or "standard ops"."""
    from ifan_trt.export import graph as graphs

    plugins = graphs.plugin_nodes(model)
    if not plugins:
        return "standard ops"
    return "split" if len(plugins) > 1 or graphs.metadata(model).get(META.iac_split) == "true" else "one-node"


def choose_iac_form(model, mode: str, profiles: list[ProfileShapes], precision: str, onnx) -> IacForm:
    """iac_split MODE for this graph. auto: a one-node plugin graph is split when the split form
    lowers the peak of live activations (export/liveness.py) at the largest profile shape, counted
    in FP16 for an FP32 graph that becomes FP16; on: always (one-line error where it cannot be);
    off: never. Other graphs are built as they are."""
    from ifan_trt.export.graph import graph_precision
    from ifan_trt.export.liveness import split_gain

    b, _, h, w = max((p.max for p in profiles), key=lambda s: s[0] * s[2] * s[3])
    half = precision in precisions.HALF and graph_precision(model) == "fp32"
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
