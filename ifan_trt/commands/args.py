"""Argument groups shared by the commands: the same option has the same name, meaning and help
in every command that takes it. A command adds the groups it needs, then its own options."""

from __future__ import annotations

import argparse

from ifan_trt.contract import MODES
from ifan_trt.options import nonneg_int, positive_int, threads
from ifan_trt.runtime.pipeline import DEFAULT_MAX_PIXELS
from ifan_trt.runtime.tiling import DEFAULT_OVERLAP

BACKEND_HELP = ("auto, tensorrt, onnxruntime or torch (default auto: TensorRT for an engine on a GPU, "
                "else ONNX Runtime, else PyTorch for a checkpoint)")


def add_model(p: argparse.ArgumentParser, *, backend: bool = True, checkpoint_options: bool = True) -> None:
    """--checkpoint / --onnx / --engine (one of them; none: the bundled model), and how to run it."""
    group = p.add_argument_group("model")
    which = group.add_mutually_exclusive_group()
    which.add_argument("--checkpoint", help="official IFAN or ifan-trt checkpoint, or 'default' (the bundled model)")
    which.add_argument("--onnx", help="exported ONNX model (run with ONNX Runtime), or 'default' (the bundled "
                                      "model's export: what runs when no model is given and ONNX Runtime is installed)")
    which.add_argument("--engine", help="TensorRT engine (its .json sidecar beside it)")
    if backend:
        group.add_argument("--backend", default="auto", help=BACKEND_HELP)
        group.add_argument("--device", default="auto", help="ONNX Runtime device: auto, cpu, cuda, tensorrt")
        add_plugin(group)
    group.add_argument("--threads", type=threads, help="CPU threads for ONNX Runtime / PyTorch")
    if checkpoint_options:
        add_checkpoint_options(group)


def add_plugin(group) -> None:
    group.add_argument("--plugin", "--plugin-lib", dest="plugin", metavar="LIB",
                       help="IFAN_IAC plugin library for engines (default: the one found in build/)")


def add_checkpoint_options(group) -> None:
    """How an official checkpoint is read (its file does not say)."""
    group.add_argument("--in-bit", type=int, choices=(8, 16), help="the model's input depth: 16 for IFAN_16bit")
    group.add_argument("--iac-mode", choices=MODES,
                       help="IAC mode for official checkpoints (default: official, what they were trained with)")


def add_tiling(p: argparse.ArgumentParser, *, overlap: bool = True) -> None:
    group = p.add_argument_group("tiling")
    group.add_argument("--tile", metavar="HxW", help="run in tiles of this size (multiples of 8)")
    group.add_argument("--max-pixels", type=positive_int, metavar="N",
                       help=f"tile inputs larger than N pixels (memory budget; default {DEFAULT_MAX_PIXELS})")
    if overlap:
        group.add_argument("--overlap", type=nonneg_int, help=f"tile overlap in pixels (default {DEFAULT_OVERLAP}: tiled "
                                                       "output within 40 dB PSNR of the full frame, measured)")


def tiling_from(args: argparse.Namespace):
    """The Tiling that the tiling group's flags ask for; the pixel budget and the overlap take
    their defaults when not given."""
    from ifan_trt.runtime.pipeline import Tiling
    from ifan_trt.runtime.tiling import parse_tile

    overlap = getattr(args, "overlap", None)
    return Tiling(tile=parse_tile(args.tile) if args.tile else None, max_pixels=args.max_pixels or DEFAULT_MAX_PIXELS,
                  overlap=DEFAULT_OVERLAP if overlap is None else overlap)


def add_crop_official(p: argparse.ArgumentParser) -> None:
    p.add_argument("--crop-official", "--official-crop", dest="crop_official", action="store_true",
                   help="crop to a multiple of 8 as the official evaluation does, instead of pad and crop back")


def add_overwrite(p: argparse.ArgumentParser) -> None:
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs (inputs never are)")
