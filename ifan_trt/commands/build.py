"""`ifan build --onnx MODEL.onnx -o ENGINE`: a strongly typed TensorRT engine (build_engine.py)."""

from __future__ import annotations

from ifan_trt.runtime.tensorrt import build as engine_build


def register(subparsers) -> None:
    p = subparsers.add_parser("build", help="build a TensorRT engine (FP32/FP16/INT8) from an ONNX export",
                              description=engine_build.__doc__.split("\n\n")[0])
    engine_build.add_arguments(p)
    p.set_defaults(func=run)


def run(args) -> int:
    return engine_build.run(args)
