"""`ifan serve`: the model behind a Triton Inference Server (HTTP, gRPC, metrics, dynamic batching)."""

from __future__ import annotations

import argparse

from ifan_trt.commands.options import nonneg_int, port, positive_int
from ifan_trt.runtime.serving.serve_protocol import DEFAULT_MAX_IMAGE_PIXELS

from . import args as arg_groups


def register(subparsers) -> None:
    p = arg_groups.add_command(subparsers, "serve", "serve the model on Triton Inference Server (HTTP/gRPC, dynamic "
                                                    "batching)",
                               "Serve the model on Triton Inference Server (PyTriton; needs the serve extra). Models "
                               "'ifan' (UINT8) and 'ifan_uint16' (UINT16) take `image` [N, H, W, C] (C = 1, 3 or 4, "
                               "RGB order) and return the deblurred images in the same shape and type.", run)
    arg_groups.add_model(p)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: local connections only; 0.0.0.0: every interface)")
    p.add_argument("--http-port", type=port, default=8000, help="HTTP port (default 8000)")
    p.add_argument("--grpc-port", type=port, default=8001, help="gRPC port (default 8001)")
    p.add_argument("--metrics-port", type=port, default=8002, help="Prometheus metrics port (default 8002)")
    p.add_argument("--instances", type=positive_int, default=1, help="model instances, each with its own executor (default 1)")
    p.add_argument("--max-batch", type=positive_int, default=4,
                   help="largest batch Triton forms from same-size requests (default 4)")
    p.add_argument("--max-queue-delay-us", type=nonneg_int, default=2000,
                   help="how long a request may wait for others to batch with, microseconds (default 2000)")
    p.add_argument("--max-image-pixels", type=positive_int, default=DEFAULT_MAX_IMAGE_PIXELS, metavar="N",
                   help=f"refuse requests with images above N pixels (default {DEFAULT_MAX_IMAGE_PIXELS})")
    arg_groups.add_in_flight(p)
    arg_groups.add_tiling(p)


def run(args: argparse.Namespace) -> int:
    from ifan_trt.jobs.serve import ServeRequest, serve

    arg_groups.check_model_options(args)
    request = ServeRequest(arg_groups.run_model_from(args), args.host, args.http_port, args.grpc_port, args.metrics_port,
                           args.instances, args.max_batch, args.max_queue_delay_us, args.max_image_pixels,
                           **arg_groups.tiling_fields(args), in_flight=args.in_flight,
                           verbose=getattr(args, "verbose", False),  # the shared --verbose also shows Triton's logs
                           names=arg_groups.flag)
    serve(request, on_ready=lambda serving: print(f"ifan serve: {serving.line()}", flush=True))
    print("ifan serve: stopped")
    return 0
