"""Serve a model on Triton Inference Server (runtime/serving/serve.py, PyTriton): models `ifan` (UINT8) and
`ifan_uint16` (UINT16) over HTTP and gRPC with dynamic batching, until SIGINT or SIGTERM."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .requests import Naming, RunModel, as_is


@dataclass(frozen=True)
class ServeRequest:
    """model: what each instance runs (None of its files: the bundled model); host: the address to
    listen on (127.0.0.1: local connections only); instances: executors, each its own; max_batch:
    the largest batch Triton forms from same-size requests, waiting up to max_queue_delay_us;
    max_image_pixels: larger requests are refused; in_flight: batches in flight per engine; tile,
    max_pixels, overlap: tiling, as a local run; verbose: Triton's own log on the terminal."""
    model: RunModel = RunModel()
    host: str = "127.0.0.1"
    http_port: int = 8000
    grpc_port: int = 8001
    metrics_port: int = 8002
    instances: int = 1
    max_batch: int = 4
    max_queue_delay_us: int = 2000
    max_image_pixels: int | None = None  # None: runtime.serving.serve_protocol.DEFAULT_MAX_IMAGE_PIXELS
    tile: tuple[int, int] | None = None
    max_pixels: int | None = None
    overlap: int | None = None
    in_flight: int | None = None  # TensorRT: batches in flight per executor (None: runtime.images.streaming's default)
    verbose: bool = False
    names: Naming = field(default=as_is, compare=False)


def serve(request: ServeRequest, on_ready: Callable | None = None) -> None:
    """Serve until SIGINT or SIGTERM. on_ready(ifan_trt.runtime.serving.serve.Serving) once every model is
    ready to answer (default: the `ifan` logger says where, at information level)."""
    from ifan_trt.runtime.images.pipeline import DEFAULT_MAX_PIXELS, Tiling
    from ifan_trt.runtime.serving.serve import ServeOptions, serve as run_server
    from ifan_trt.runtime.serving.serve_protocol import DEFAULT_MAX_IMAGE_PIXELS
    from ifan_trt.runtime.images.tiling import DEFAULT_OVERLAP

    request.model.check(request.names)
    tiling = Tiling(tile=request.tile, max_pixels=request.max_pixels or DEFAULT_MAX_PIXELS,
                    overlap=DEFAULT_OVERLAP if request.overlap is None else request.overlap)
    options = ServeOptions(host=request.host, http_port=request.http_port, grpc_port=request.grpc_port,
                           metrics_port=request.metrics_port, instances=request.instances, max_batch=request.max_batch,
                           max_queue_delay_us=request.max_queue_delay_us,
                           max_image_pixels=request.max_image_pixels or DEFAULT_MAX_IMAGE_PIXELS, tiling=tiling,
                           verbose=request.verbose, names=request.names,
                           **({} if request.in_flight is None else {"in_flight": request.in_flight}))
    # each call opens its own executor (either CUDA binding makes its context current in its thread)
    run_server(request.model.open, options, model=request.model.given or "the bundled model", on_ready=on_ready)
