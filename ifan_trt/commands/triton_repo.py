"""`ifan triton-repo MODEL -o REPO`: a model repository for Triton Inference Server (tritonserver)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ifan_trt.commands.options import nonneg_int, positive_int

from . import args as arg_groups


def register(subparsers) -> None:
    p = arg_groups.add_command(subparsers, "triton-repo", "write a Triton Inference Server model repository (TensorRT "
                                                          "engine or ONNX)",
                               "Write a standard Triton model repository: MODEL is a TensorRT engine (with its .json "
                               "sidecar; platform tensorrt_plan) or the standard-op ONNX export (`ifan export --iac "
                               "onnx`; platform onnxruntime_onnx). The repository serves the raw network: FP32 NCHW "
                               "in [0, 1], height and width multiples of 8.", run)
    p.add_argument("model", metavar="MODEL", type=Path, help="engine (.engine/.plan) or ONNX model (.onnx)")
    arg_groups.add_output(p, "model repository folder (a model already in it is never replaced)", required=True)
    p.add_argument("--name", default="ifan", help="model name in the repository (default ifan)")
    p.add_argument("--max-batch", type=positive_int,
                   help="largest batch Triton's dynamic batcher forms (default 8, or the engine's largest)")
    p.add_argument("--instances", type=positive_int, default=1, help="model instances (default 1)")
    p.add_argument("--kind", choices=("gpu", "cpu"), help="where the instances run (default gpu; cpu for ONNX only)")
    p.add_argument("--max-queue-delay-us", type=nonneg_int, default=2000,
                   help="how long a request may wait for others to batch with, microseconds (default 2000)")


def run(args: argparse.Namespace) -> int:
    from ifan_trt.runtime.serving.triton_repo import write_repository

    kind = {"gpu": "KIND_GPU", "cpu": "KIND_CPU", None: None}[args.kind]
    model = write_repository(args.model, args.output, name=args.name, max_batch=args.max_batch,
                             instances=args.instances, kind=kind, queue_delay_us=args.max_queue_delay_us)
    print(f"wrote {args.output / args.name} ({model.platform}, batches up to {model.max_batch}); "
          f"serve it with: tritonserver --model-repository={args.output}")
    if model.platform == "tensorrt_plan":
        library = args.output / "plugins" / model.plugin_library.name if model.plugin_library else None
        where = library if library and library.is_file() else "libifan_iac_plugin_trt<major>.so"
        print(f"the engine needs the IFAN_IAC plugin where it was built with it: LD_PRELOAD={where} tritonserver ... "
              f"or tritonserver --backend-config=tensorrt,plugins={where} ...")
    return 0
