"""The precision steps end to end, as `ifan precision` and `ifan build` run them: read the FP32
export, measure or calibrate on images, write the graph."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ifan_trt.errors import IfanError
from ifan_trt.log import get as get_logger

from . import fp16 as fp16_mod
from ifan_trt.export import graph as graphs
from ifan_trt.export.graph import graph_precision
from ifan_trt.export.uint8_io import float_core, rewrap_like
from ifan_trt.calib import images, int8
from ifan_trt.calib.qdq import to_int8_fp16
from ifan_trt.table import format_table
from ifan_trt.contract import META
from ifan_trt.progress import Bars

log = get_logger(__name__)

DEFAULT_MEASURE_SIZE = (256, 256)
DEFAULT_MEASURE_COUNT = 8
DEFAULT_CALIB_SIZE = (256, 256)
DEFAULT_CALIB_COUNT = 32


@dataclass
class Fp16Plan:
    keep_ops: list[str]
    keep_nodes: list[str]
    stats: list  # fp16.NodeStats, empty when not measured


def source_onnx(arg: Path, out: Path, overwrite: bool = False) -> Path:
    """The FP32 ONNX to start from: arg itself, or for a checkpoint (.pth/.pt) or the word
    "default" (the bundled model) its plugin-form export beside out (reused while the
    checkpoint's SHA-256 matches the export's metadata)."""
    from ifan_trt.models import bundled, is_default, kind_of

    default = is_default(arg)
    arg = Path(arg)
    if not default and kind_of(arg) != "checkpoint":
        return arg
    if default:  # the bundled export of the bundled checkpoint: no torch needed
        export = bundled("onnx", required=False)
        if export is not None:
            return export
        arg = bundled("checkpoint")
    from ifan_trt.files import sha256_file

    if not arg.is_file():
        raise IfanError(f"{arg}: no such checkpoint")
    target = out.with_name(f"{arg.stem}.fp32.onnx")
    if os.path.lexists(target):
        try:
            recorded = graphs.read_metadata(target).get(META.checkpoint_sha256)
        except Exception:  # noqa: BLE001  unreadable: not our export
            recorded = None
        if recorded == sha256_file(arg):
            return target
        if not overwrite:
            raise IfanError(f"{target}: exists and is not the export of {arg}; pass --overwrite to replace it")
    from ifan_trt.export import export_onnx

    log.info(f"exporting {arg} to {target} (IAC as plugin node)")
    export_onnx(arg, target, iac_form="plugin", overwrite=overwrite)
    return target


def read_fp32(path: Path):
    model = graphs.load_model(path)
    precision = graph_precision(model)
    if precision != "fp32" or graphs.has_qdq(model):
        raise IfanError(f"{path}: is a {precision} graph; start from the FP32 export")
    return model


def _feeds(model, paths, size):
    names = graphs.input_names(model)
    return [images.feeds_for(names, p, size) for p in paths]


def plan_fp16(model, image_dir, keep: list[str] = (), size=None, count=DEFAULT_MEASURE_COUNT,
              max_rel_error=fp16_mod.DEFAULT_MAX_REL_ERROR, measure: bool = True, show_all: bool = False,
              progress: Bars | None = None, size_option: str = "size") -> Fp16Plan:
    """Which ops/nodes stay FP32: the user's list plus, when measure, what the measurement flags.
    size: the measurement crop (None: the graph's fixed HxW, else DEFAULT_MEASURE_SIZE)."""
    keep_ops, keep_nodes = fp16_mod.resolve_keep(model, list(keep))
    stats = []
    if measure:
        size = images.graph_size(model, size, DEFAULT_MEASURE_SIZE, size_option)
        paths = images.find_images(image_dir, count)
        size_text = f"{size[0]}x{size[1]}"
        log.info(f"measuring FP16 per node on {len(paths)} image(s) of {paths[0].parent} at {size_text}")
        stats = fp16_mod.measure(model, _feeds(model, paths, size), max_rel_error=max_rel_error, progress=progress)
        rows = fp16_mod.report_rows(stats, None if show_all else 25)
        log.info(format_table(fp16_mod.REPORT_HEADER, rows))
        flagged = [s.name for s in stats if s.keep_fp32]
        log.info(f"{len(stats)} float nodes measured; kept in FP32 by measurement: "
             f"{', '.join(flagged) if flagged else 'none'}"
             + ("" if show_all else f" (table: kept nodes and the largest errors; --all for every node)"))
        keep_nodes = sorted(set(keep_nodes) | set(flagged))
    return Fp16Plan(keep_ops, keep_nodes, stats)


def output_psnr(reference, candidate, feeds_list) -> list[float]:
    """PSNR of candidate's output against reference's, per feed dict (both ModelProto)."""
    from ifan_trt.export.ort_plugin import ort_session

    from ifan_trt.metrics import psnr

    from .emulate import cpu_model

    a_s, b_s = ort_session(reference), ort_session(cpu_model(candidate))
    out_a, out_b = a_s.get_outputs()[0].name, b_s.get_outputs()[0].name
    return [psnr(a_s.run([out_a], f)[0], b_s.run([out_b], f)[0].astype(np.float32)) for f in feeds_list]


def make_fp16(src: Path, out: Path, image_dir=None, keep=(), size=None, count=DEFAULT_MEASURE_COUNT,
              max_rel_error=fp16_mod.DEFAULT_MAX_REL_ERROR, measure=True, show_all=False, progress=None,
              model=None, size_option: str = "size") -> Path:
    """FP16 graph of the FP32 export at src (model: that graph already loaded, or rewritten from it).
    size: the measurement crop; None measures at the graph's fixed HxW, or DEFAULT_MEASURE_SIZE
    where H and W are dynamic (size_option names size in errors)."""
    graphs.check_output_path(out, src)
    original = read_fp32(src) if model is None else model
    model = float_core(original)  # a uint8 model: its float network is converted, then wrapped again
    if measure:
        size = images.graph_size(model, size, DEFAULT_MEASURE_SIZE, size_option)
    plan = plan_fp16(model, image_dir, keep, size, count, max_rel_error, measure, show_all, progress, size_option)
    converted = fp16_mod.convert(model, plan.keep_ops, plan.keep_nodes)
    graphs.set_metadata(converted, META.fp32_nodes, ",".join(plan.keep_ops + plan.keep_nodes))
    converted = rewrap_like(converted, original)
    if measure:
        paths = images.find_images(image_dir, min(count, 4))
        values = output_psnr(model, float_core(converted), _feeds(model, paths, size))
        log.info(f"FP16 graph vs FP32 on {len(paths)} measurement image(s): PSNR mean {np.mean(values):.2f} dB, "
             f"min {min(values):.2f} dB")
    graphs.save_model(converted, out)
    log.info(f"wrote {out} (FP16, FP32 I/O; FP32 ops: {', '.join(plan.keep_ops) or 'none'}; "
         f"FP32 nodes: {len(plan.keep_nodes)})")
    return out


def make_int8(src: Path, out: Path, image_dir, method="percentile", count=DEFAULT_CALIB_COUNT,
              size=None, cache: Path | None = None, fp16: bool = False, keep=(),
              progress=None, model=None, size_option: str = "size") -> Path:
    """INT8 Q/DQ graph (fp16=True: the int8-fp16 graph) from the FP32 export at src (model: that
    graph already loaded, or rewritten from it). size: the calibration crop; None calibrates at
    the graph's fixed HxW, or DEFAULT_CALIB_SIZE where H and W are dynamic."""
    graphs.check_output_path(out, src)
    if cache is not None:
        graphs.check_output_path(cache, src)
    original = read_fp32(src) if model is None else model
    model = float_core(original)  # a uint8 model: its float network is calibrated, then wrapped again
    size = images.graph_size(model, size, DEFAULT_CALIB_SIZE, size_option)
    paths = images.find_images(image_dir, count)
    names = graphs.input_names(model)
    qdq, info = int8.calibrate(model, paths, lambda p: images.feeds_for(names, p, size), method, size, cache,
                               progress)
    log.info(info.summary() + (f" (cache {cache})" if cache else ""))
    if fp16:
        plan = plan_fp16(model, image_dir, keep, size, min(count, DEFAULT_MEASURE_COUNT), progress=progress,
                         size_option=size_option)
        qdq = to_int8_fp16(qdq, plan.keep_nodes, plan.keep_ops)
        graphs.set_metadata(qdq, META.fp32_nodes, ",".join(plan.keep_ops + plan.keep_nodes))
    qdq = rewrap_like(qdq, original)
    graphs.save_model(qdq, out)
    n_q = sum(n.op_type == "QuantizeLinear" for n in qdq.graph.node)
    log.info(f"wrote {out} ({'INT8 + FP16' if fp16 else 'INT8'} Q/DQ, {n_q} quantize nodes, "
         f"{method} on {len(paths)} image(s) at {size[0]}x{size[1]})")
    return out


# ---------------------------------------------------------------- the graph an engine build needs

def prepared_path(output: Path, onnx_path: Path, precision: str, iac_split: bool = False) -> Path:
    """Where a prepared graph goes: beside the engine, named after the source export (and the
    split IAC form, which has its own graphs: their nodes differ)."""
    return output.with_name(f"{onnx_path.stem}{'.iac-split' if iac_split else ''}.{precision}.onnx")


def split_for_build(model, onnx: Path):
    """The one-node plugin graph in the split IAC form (export/iac_split.py), before any
    precision step: FP16 measurement, calibration and Q/DQ then see the split graph's nodes."""
    from ifan_trt.export.iac_split import split_plugin_graph

    try:
        return split_plugin_graph(model)
    except ValueError as exc:
        raise IfanError(f"{onnx}: cannot split the IAC: {exc}") from None


def _prepared_earlier(target: Path, onnx: Path, model, want: str) -> bool:
    """target is this graph's want-precision graph, newer than onnx: same checkpoint, same IAC form."""
    if not target.is_file() or target.stat().st_mtime < onnx.stat().st_mtime:
        return False
    existing = graphs.load_model(target)
    have, source = graphs.metadata(existing), graphs.metadata(model)
    return graph_precision(existing) == want and all(have.get(key) == source.get(key)
                                                     for key in (META.checkpoint_sha256, META.iac_split))


def graph_for(onnx: Path, output: Path, precision: str, calib_images: Path | None = None,
              calib_method: str = "percentile", calib_count: int = DEFAULT_CALIB_COUNT,
              calib_size: tuple[int, int] | None = None, progress: Bars | None = None,
              source=None, overwrite: bool = False, iac_split: bool = False,
              size_option: str = "calib_size") -> tuple[Path, str, dict[str, str]]:
    """(graph to build, its precision, its metadata): onnx itself when it has the requested
    precision, a graph prepared earlier beside output, or one prepared now from the FP32 export.
    source: onnx already loaded (it is not read again). iac_split: the graph is first rewritten
    into the split IAC form (split_for_build), and that graph is the one prepared and built.
    calib_size: the FP16 measurement and INT8 calibration crop (None: the graph's fixed HxW,
    or 256x256 where H and W are dynamic)."""
    model = source if source is not None else graphs.load_model(onnx)
    if iac_split:
        model = split_for_build(model, onnx)
    have, want = graph_precision(model), precision  # the build job decided the precision
    if want == have and not iac_split:
        return onnx, have, graphs.metadata(model)
    if have not in ("fp32", want):
        raise IfanError(f"{onnx}: is a {have} graph; --precision {want} needs the FP32 export")
    target = prepared_path(output, onnx, want, iac_split)
    if _prepared_earlier(target, onnx, model, want):
        log.info(f"using the {want} graph prepared earlier: {target}")
        return target, want, graphs.read_metadata(target)
    if os.path.lexists(target) and not overwrite:
        raise IfanError(f"{target}: exists and is not the {want} graph of {onnx}; pass --overwrite to replace it")
    if want == have:  # only the IAC form changes
        graphs.save_model(model, graphs.check_output_path(target, onnx))
        log.info(f"wrote {target} (the split IAC form of {onnx})")
    elif want == "fp16":
        make_fp16(onnx, target, calib_images, size=calib_size, progress=progress, model=model,
                  size_option=size_option)
    else:
        if calib_images is None:
            raise IfanError(f"--precision {want}: needs --calib-images DIR (INT8 calibration images)")
        make_int8(onnx, target, calib_images, calib_method, calib_count,
                  calib_size, target.with_name(f"{target.stem}.calib.json"),
                  fp16=(want == "int8-fp16"), progress=progress, model=model, size_option=size_option)
    return target, want, graphs.read_metadata(target)
