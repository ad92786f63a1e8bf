"""Argument groups shared by the commands: the same option has the same name, meaning, type, help
and default in every command that takes it. A command registers itself with add_command, adds the
groups it needs (with parameters where it needs a subset), then its own options."""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from pathlib import Path

from ifan_trt.contract import MODES
from ifan_trt.errors import IfanError
from ifan_trt.commands.options import int_range, nonneg_int, positive_int, threads
from ifan_trt.runtime.images.pipeline import DEFAULT_MAX_PIXELS
from ifan_trt.runtime.images.streaming import DEFAULT_DEPTH, MAX_DEPTH
from ifan_trt.runtime.images.tiling import DEFAULT_OVERLAP

BACKEND_HELP = ("auto, tensorrt, onnxruntime or torch (default auto: TensorRT for an engine where TensorRT and "
                "a GPU are present, else ONNX Runtime, else PyTorch for a checkpoint)")
MODEL_KINDS = ("checkpoint", "onnx", "engine")
MODEL_HELP = {
    "checkpoint": "official IFAN or ifan-trt checkpoint, or 'default' (the bundled model)",
    "onnx": "exported ONNX model (run with ONNX Runtime), or 'default' (the bundled model's export: what runs "
            "when no model is given and ONNX Runtime is installed)",
    "engine": "TensorRT engine (its .json sidecar beside it)",
}
MODEL_METAVAR = {"checkpoint": "CKPT", "onnx": "MODEL", "engine": "ENGINE"}


def add_command(subparsers, name: str, help: str, description: str | None,
                run: Callable[[argparse.Namespace], int], **kwargs) -> argparse.ArgumentParser:
    """The parser of one `ifan` subcommand, dispatching to run(args) -> exit status, with the
    messages options every command takes."""
    p = subparsers.add_parser(name, help=help, description=description, **kwargs)
    p.set_defaults(func=run)
    add_messages(p)
    return p


def add_messages(p: argparse.ArgumentParser) -> None:
    """--verbose / --quiet / --debug (cli.main applies them; also accepted before the command)."""
    group = p.add_argument_group("messages")
    group.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS,
                       help="also show third-party library logs (OpenCV, FFmpeg, ONNX Runtime, TensorRT)")
    group.add_argument("--quiet", action="store_true", default=argparse.SUPPRESS,
                       help="print only errors (no progress, no summary)")
    group.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the traceback of an internal error")


def add_model(p: argparse.ArgumentParser, *, kinds: tuple[str, ...] = MODEL_KINDS, repeat: bool = False,
              backend: bool = True, device: str | None = "auto", threads_option: bool = True,
              checkpoint_options: bool = True, title: str = "model", description: str | None = None):
    """--checkpoint / --onnx / --engine (one of them, or with repeat each repeatable) and how to run
    it: --backend, --device (with its default), --plugin (where engines are named), --threads, and
    --in-bit / --iac-mode (where checkpoints are). Returns the group for a command's own options."""
    group = p.add_argument_group(title, description)
    which = group if repeat or len(kinds) == 1 else group.add_mutually_exclusive_group()
    for kind in kinds:
        if repeat:
            which.add_argument(f"--{kind}", action="append", default=[], metavar=MODEL_METAVAR[kind],
                               help=f"{MODEL_HELP[kind]}; repeatable")
        else:
            which.add_argument(f"--{kind}", metavar=MODEL_METAVAR[kind], help=MODEL_HELP[kind])
    if backend:
        group.add_argument("--backend", default="auto", help=BACKEND_HELP)
    if device is not None:
        group.add_argument("--device", default=device,
                           help=f"ONNX Runtime device: auto, cpu, cuda, tensorrt (default {device})")
    if "engine" in kinds:
        add_plugin(group)
    if threads_option:
        group.add_argument("--threads", type=threads,
                           help="CPU threads for ONNX Runtime / PyTorch (default: the library's own choice)")
    if checkpoint_options and "checkpoint" in kinds:
        add_checkpoint_options(group)
    return group


def add_plugin(group) -> None:
    group.add_argument("--plugin", metavar="LIB",
                       help="IFAN_IAC plugin library for engines (default: the one found in build/)")


def add_checkpoint_options(group) -> None:
    """How an official checkpoint is read (its file does not say)."""
    group.add_argument("--in-bit", type=int, choices=(8, 16), help="the model's input depth: 16 for IFAN_16bit")
    group.add_argument("--iac-mode", choices=MODES,
                       help="IAC mode for official checkpoints (default: official, what they were trained with)")


def add_output(p: argparse.ArgumentParser, help: str, *, required: bool = False) -> None:
    """-o / --output OUT: the file or folder the command writes (help says which). A stream the
    command sends is not an output file: it has its own flag (`ifan demo --stream`)."""
    p.add_argument("-o", "--output", type=Path, required=required, metavar="OUT", help=help)


def add_overwrite(p: argparse.ArgumentParser) -> None:
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs (inputs never are)")


def add_json(p: argparse.ArgumentParser, what: str = "the report", stdout: bool = False) -> None:
    """--json FILE: a report with the machine, the versions and the command line (ifan_trt.reports);
    an existing FILE is refused unless --overwrite, as every output; stdout: `-` writes it to
    standard output (ifan_trt.reports.write_json)."""
    dash = "; - for standard output" if stdout else ""
    p.add_argument("--json", metavar="FILE", help=f"write {what} as JSON (with machine, versions, command{dash})")


def check_json(args: argparse.Namespace, inputs=(), data_folders=()) -> None:
    """--json's path, before any work: new (or --overwrite), no input of the run, outside its data."""
    from ifan_trt.files import check_not_input, check_output_file

    from ifan_trt.reports import to_stdout

    if args.json and not to_stdout(args.json):
        check_not_input(args.json, inputs, data_folders, what="--json")
        check_output_file(args.json, args.overwrite, what="--json")


@functools.cache  # one type object per form: the same flag has the very same type in every command
def _size_type(metavar: str, square_ok: bool = False):
    """The parse-time check of a size's form (HxW, or BxCxHxW for a tensor shape; positive
    numbers): a malformed one is a usage line. The text is kept: the command checks what its job
    needs (multiples of 8, a limit) when it reads it with ifan_trt.sizes, naming the option."""
    from ifan_trt.sizes import parse_size, parse_tensor_shape

    def size(text: str) -> str:
        try:
            if metavar == "BxCxHxW":
                parse_tensor_shape(text, "")
            else:
                parse_size(text, "", square_ok=square_ok)
        except IfanError as exc:
            raise argparse.ArgumentTypeError(str(exc).strip()) from None
        return text
    size.__name__ = metavar
    return size


def add_size(p, flag: str, what: str, default: str | None = None, metavar: str = "HxW", square_ok: bool = False,
             **kwargs) -> None:
    """An image size (HxW, rows first; every *-size flag and --tile, which also takes one number
    for a square) or a tensor shape (BxCxHxW; --shape)."""
    tail = f" (default: {default})" if default else ""
    p.add_argument(flag, default=default, metavar=metavar, type=_size_type(metavar, square_ok), help=f"{what}{tail}",
                   **kwargs)


def add_calibration(p: argparse.ArgumentParser, *, images_help: str, method: bool = True) -> None:
    """The images a precision is decided on: --calib-images, --calib-count, --calib-size and (where
    the command lets the user choose it) --calib-method, the same in precision, build and benchmark."""
    from ifan_trt.calib.int8 import METHODS
    from ifan_trt.calib.prepare import DEFAULT_CALIB_COUNT, DEFAULT_MEASURE_COUNT

    group = p.add_argument_group("calibration", "the images INT8 scales are calibrated on, and FP16 measures "
                                                "which nodes stay FP32 on")
    group.add_argument("--calib-images", type=Path, metavar="DIR", help=images_help)
    group.add_argument("--calib-count", type=positive_int, metavar="N",
                       help=f"images to use, first by name (default: {DEFAULT_CALIB_COUNT} to calibrate INT8, "
                            f"{DEFAULT_MEASURE_COUNT} to measure FP16)")
    add_size(group, "--calib-size", "crop of each image (default: the graph's input size where the export fixed "
                                    "it (`ifan export --static-size`), else 256x256)")
    if method:
        group.add_argument("--calib-method", choices=METHODS, default="percentile",
                           help="INT8 range method (default: %(default)s, the most accurate and fastest in the "
                                "bench/README.md measurements)")


def calib_count(args) -> int:
    """--calib-count, or the INT8 default (FP16 measurement inside a build or benchmark takes at
    most its own smaller default of these)."""
    from ifan_trt.calib.prepare import DEFAULT_CALIB_COUNT

    return args.calib_count or DEFAULT_CALIB_COUNT


def calib_size(args) -> tuple[int, int] | None:
    """--calib-size as (H, W), or None when not given (the precision steps then use the graph's
    fixed input size, or their default)."""
    from ifan_trt.sizes import parse_model_size

    return None if args.calib_size is None else parse_model_size(args.calib_size, "--calib-size")


def add_batch(p: argparse.ArgumentParser) -> None:
    """--batch of the commands that run runtime/images/batch.py (deblur, eval)."""
    p.add_argument("--batch", type=positive_int,
                   help="video frames or same-size images per run (default: the engine's largest batch, up to 8; "
                        "1 on CPU backends)")


IN_FLIGHT = int_range(1, MAX_DEPTH)  # one parser object: the same type in every command


def add_in_flight(p: argparse.ArgumentParser) -> None:
    """--in-flight of the commands that stream (deblur's videos, demo, serve): one meaning, type
    and default everywhere (runtime.images.streaming owns the default and the limit)."""
    p.add_argument("--in-flight", type=IN_FLIGHT, default=DEFAULT_DEPTH, metavar="N",
                   help=f"batches of frames in flight on a TensorRT engine, so that the upload, compute and download "
                        f"of consecutive ones overlap (default {DEFAULT_DEPTH}; 1: one at a time; at most {MAX_DEPTH}; "
                        "other backends run one at a time)")


def add_tiling(p: argparse.ArgumentParser, *, overlap: bool = True) -> None:
    group = p.add_argument_group("tiling")
    add_size(group, "--tile", "run in tiles of this size (multiples of 8; one number for a square)", square_ok=True)
    group.add_argument("--max-pixels", type=positive_int, metavar="N",
                       help=f"tile inputs larger than N pixels (memory budget; default {DEFAULT_MAX_PIXELS})")
    if overlap:
        group.add_argument("--overlap", type=nonneg_int, help=f"tile overlap in pixels (default {DEFAULT_OVERLAP}: tiled "
                                                       "output within 40 dB PSNR of the full frame, measured)")


def tiling_from(args: argparse.Namespace):
    """The Tiling that the tiling group's flags ask for; the pixel budget and the overlap take
    their defaults when not given."""
    from ifan_trt.runtime.images.pipeline import Tiling
    from ifan_trt.runtime.images.tiling import parse_tile

    overlap = getattr(args, "overlap", None)
    return Tiling(tile=parse_tile(args.tile) if args.tile else None, max_pixels=args.max_pixels or DEFAULT_MAX_PIXELS,
                  overlap=DEFAULT_OVERLAP if overlap is None else overlap)


IAC_SPLIT_HELP = {
    "export": "export the IAC as one node per iteration, each fed by its own slice of the filter predictor's 1x1 "
              "conv, so the filter tensor F is never written: on, off, or auto when that lowers the peak of live "
              "activations at the static size (else 720x1280)",
    "build": "build the IAC as one IFAN_IAC layer per iteration, each fed by its own slice of the filter conv, so the "
             "filters F are never written: on, off, or auto when that lowers the peak of live activations at the "
             "largest profile shape",
}


def add_iac_split(p, command: str, default: str) -> None:
    """--iac-split auto|on|off: the split IAC form, chosen at export or at build."""
    p.add_argument("--iac-split", choices=("auto", "on", "off"), default=default,
                   help=f"{IAC_SPLIT_HELP[command]} (default: %(default)s)")


DEFAULT_WARMUP, DEFAULT_ITERATIONS = 3, 20


def add_timing(p: argparse.ArgumentParser):
    """--warmup and --iterations of the commands that time models (profile, benchmark); returns the
    group --iterations is in, for a command's alternative to it (profile's --duration)."""
    p.add_argument("--warmup", type=nonneg_int, default=DEFAULT_WARMUP, metavar="N",
                   help="untimed runs first (default %(default)s)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--iterations", type=positive_int, metavar="N",
                       help=f"timed runs per model (default {DEFAULT_ITERATIONS})")
    return group


def iterations(args: argparse.Namespace) -> int:
    return args.iterations or DEFAULT_ITERATIONS


def add_crop_official(p: argparse.ArgumentParser) -> None:
    p.add_argument("--crop-official", action="store_true",
                   help="crop to a multiple of 8 as the official evaluation does, instead of pad and crop back")


def check_model_options(args: argparse.Namespace) -> None:
    """Options that apply to none of the named models are an error, before any model opens."""
    if getattr(args, "plugin", None) and not args.engine:
        raise IfanError("--plugin: applies to TensorRT engines only (--engine FILE)")
    exported_only = (getattr(args, "onnx", None) or getattr(args, "engine", None)) and not getattr(args, "checkpoint", None)
    if exported_only:  # exported models record their input depth and IAC mode
        for flag, value in (("--in-bit", getattr(args, "in_bit", None)), ("--iac-mode", getattr(args, "iac_mode", None))):
            if value is not None:
                raise IfanError(f"{flag}: applies to checkpoints only; an ONNX model or engine records it "
                                "(export again with the checkpoint to change it)")


# a request field whose flag is not --FIELD-WITH-DASHES
_FLAG_OF = {"output": "-o", "inputs": "INPUT", "optimization_level": "--builder-optimization-level", "report": "--json"}


def flag(field_name: str) -> str:
    """How the command names a job request's field in a message (the jobs' `names`)."""
    return _FLAG_OF.get(field_name) or "--" + field_name.replace("_", "-")


def run_model_from(args: argparse.Namespace):
    """The model group's flags (add_model) as the jobs' RunModel."""
    from ifan_trt.jobs.requests import RunModel

    get = lambda name, default=None: getattr(args, name, default)  # noqa: E731
    return RunModel(checkpoint=get("checkpoint"), onnx=get("onnx"), engine=get("engine"), backend=get("backend", "auto"),
                    device=get("device", "auto"), plugin=get("plugin"), threads=get("threads"), in_bit=get("in_bit"),
                    iac_mode=get("iac_mode"))


def tiling_fields(args: argparse.Namespace) -> dict:
    """The tiling group's flags as the requests' tile, max_pixels and overlap fields (None: default)."""
    from ifan_trt.runtime.images.tiling import parse_tile

    return {"tile": parse_tile(args.tile) if args.tile else None, "max_pixels": args.max_pixels,
            "overlap": getattr(args, "overlap", None)}
