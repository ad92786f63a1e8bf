"""A Triton Inference Server (PyTriton's bundled tritonserver) in front of the deblur pipeline.

Triton does the serving: HTTP/gRPC, health and readiness, dynamic batching of same-shape requests,
metrics. Each batch it forms reaches `ImageHandler` as [N, H, W, C] and goes through `deblur_images`, the same
code `ifan deblur` runs (padding, tiling past the budget, gray, alpha, 16-bit, static-shape models).

With a TensorRT engine and in_flight > 1, each executor serves in_flight Triton model instances
through one PipelineWorker: Triton's threads convert their batches on their own, the worker's
thread keeps up to in_flight of them in flight on the engine (pipeline_worker.py).
"""

from __future__ import annotations

import logging
import os
import signal
import sysconfig
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ifan_trt.errors import IfanError
from ifan_trt.log import get as get_logger

from ..interface.executor import Executor
from ..images.pipeline import Tiling, deblur_images
from ..images.pipeline_worker import PipelineWorker
from .serve_protocol import (DEFAULT_MAX_IMAGE_PIXELS, MODELS, TENSOR, from_wire, models_not_ready, to_wire,
                             wait_until_ready)
from ..images.streaming import DEFAULT_DEPTH, prepare_images

log = get_logger(__name__)

# Triton endpoints only a local admin needs; health, metadata, inference and statistics stay open
_RESTRICTED = ["shared-memory", "model-repository", "trace", "logging"]


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    http_port: int = 8000
    grpc_port: int = 8001
    metrics_port: int = 8002
    instances: int = 1
    max_batch: int = 4
    max_queue_delay_us: int = 2000
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
    tiling: Tiling = field(default_factory=Tiling)
    verbose: bool = False
    in_flight: int = DEFAULT_DEPTH  # batches in flight per executor (TensorRT); 1: one at a time
    names: Callable[[str], str] = field(default=lambda name: name, compare=False)  # how messages name the fields

    def addresses(self) -> str:
        return (f"http://{self.host}:{self.http_port} grpc://{self.host}:{self.grpc_port} "
                f"metrics http://{self.host}:{self.metrics_port}/metrics")


def use_own_libpython() -> None:
    """Put this interpreter's LIBDIR first on LD_LIBRARY_PATH for the processes Triton starts:
    its Python-backend stub links libpython3.X and would otherwise load the system's copy, which
    does not match a pyenv or venv interpreter of another patch release."""
    libdir = sysconfig.get_config_var("LIBDIR")
    if not libdir or not Path(libdir).is_dir():
        return
    paths = [p for p in os.environ.get("LD_LIBRARY_PATH", "").split(":") if p and p != libdir]
    os.environ["LD_LIBRARY_PATH"] = ":".join([libdir, *paths])


class ImageHandler:
    """One model instance's work: a Triton batch of same-shape images through one executor.
    The 8- and 16-bit models share the executors, hence the lock; with a worker (a pipelined
    engine) the batch goes to the worker's pipeline instead, with other instances' batches in
    flight beside it, and the results equal those of the serial path."""

    def __init__(self, executor: Executor, tiling: Tiling, max_image_pixels: int,
                 worker: PipelineWorker | None = None, lock: threading.Lock | None = None):
        self.executor, self.tiling, self.max_image_pixels = executor, tiling, max_image_pixels
        self.worker = worker
        self._lock = lock or threading.Lock()

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        images = [from_wire(a, self.max_image_pixels) for a in batch]
        if self.worker is None:
            with self._lock:
                results = deblur_images(self.executor, images, tiling=self.tiling)
        else:
            prepared = prepare_images(self.executor, images, self.tiling)
            if prepared is None:  # tiles, a split, what only the serial path takes (or refuses)
                results = self.worker.call(lambda: deblur_images(self.executor, images, tiling=self.tiling))
            else:
                results = prepared.finish(self.worker.run(prepared.input))
        return np.stack([to_wire(r) for r in results])


def open_handlers(executors: list[Executor], options: ServeOptions) -> tuple[list[ImageHandler], list[PipelineWorker]]:
    """The model instances Triton calls: per executor one handler, or in_flight handlers sharing
    one PipelineWorker where the executor pipelines (TensorRT) and in_flight > 1."""
    handlers, workers = [], []
    try:
        for executor in executors:
            if options.in_flight > 1 and callable(getattr(executor, "pipeline", None)):
                worker = PipelineWorker(executor, options.in_flight)
                workers.append(worker)
                handlers += [ImageHandler(executor, options.tiling, options.max_image_pixels, worker)
                             for _ in range(options.in_flight)]
            else:
                handlers.append(ImageHandler(executor, options.tiling, options.max_image_pixels))
    except BaseException:
        for worker in workers:
            worker.close()
        raise
    return handlers, workers


def pipelining_line(workers: list[PipelineWorker], options: ServeOptions) -> str:
    """How batches run, for the start line: in flight per executor and the memory path."""
    if not workers:
        return "one batch at a time per instance"
    memory = workers[0].memory
    line = f"{options.in_flight} batches in flight per instance"
    if memory.get("memory_path"):
        line += f", memory path {memory['memory_path']}"
    if memory.get("activation_bytes"):
        line += f", activation memory {memory['activation_bytes'] / 2**20:.1f} MiB shared by its slots"
    return line



def _triton_callable(handler: ImageHandler):
    from pytriton.decorators import batch

    @batch
    def infer(**inputs):
        return {TENSOR: handler(inputs[TENSOR])}

    return infer


def _triton(options: ServeOptions, workspace: Path):
    from pytriton.triton import Triton, TritonConfig, TritonSecurityConfig

    from ..executors.backends import gpu_count

    config = TritonConfig(http_address=options.host, http_port=options.http_port,
                          grpc_address=options.host, grpc_port=options.grpc_port,
                          metrics_address=options.host, metrics_port=options.metrics_port,
                          allow_gpu_metrics=gpu_count() > 0, exit_timeout_secs=5,
                          log_verbose=1 if options.verbose else 0,
                          log_file=None if options.verbose else workspace / "tritonserver.log")
    return Triton(config=config, workspace=workspace / "triton",
                  security_config=TritonSecurityConfig(restricted_endpoints=list(_RESTRICTED)))


def _bind(triton, handlers: list[ImageHandler], options: ServeOptions) -> None:
    from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor

    for dtype, name in MODELS.items():
        triton.bind(model_name=name, infer_func=[_triton_callable(h) for h in handlers],
                    inputs=[Tensor(name=TENSOR, dtype=dtype.type, shape=(-1, -1, -1))],
                    outputs=[Tensor(name=TENSOR, dtype=dtype.type, shape=(-1, -1, -1))],
                    config=ModelConfig(max_batch_size=options.max_batch,
                                       batcher=DynamicBatcher(max_queue_delay_microseconds=options.max_queue_delay_us)),
                    strict=True)


def _start(handlers: list[ImageHandler], options: ServeOptions, workspace: Path, attempts: int = 3):
    """Triton started with both models bound. PyTriton's later instances of a model fetch their
    config from the first one over a Unix socket and, on a loaded machine, may connect before it
    listens; that model load fails, so such a start is retried with a fresh server."""
    from tritonclient.utils import InferenceServerException

    for attempt in range(attempts):
        folder = workspace / f"start{attempt}"
        folder.mkdir()
        triton = _triton(options, folder)
        try:
            _bind(triton, handlers, options)
            triton.run()
            return triton
        except InferenceServerException as exc:
            triton.stop()
            if attempt == attempts - 1 or "load failed" not in str(exc):
                reason = str(exc).strip().splitlines()[0]
                raise IfanError(f"Triton could not load the model ({reason}); --verbose shows its log") from None
        except BaseException:
            triton.stop()
            raise


MODELS_READY_S = 300.0  # how long the models may take to load after Triton started


def wait_models_ready(host: str, port: int, names, timeout_s: float = MODELS_READY_S, alive=lambda: True) -> None:
    """Until Triton's per-model readiness holds for every name; IfanError after timeout_s, or when
    alive() says the server has gone."""
    waiting = wait_until_ready(lambda: models_not_ready(host, port, names), timeout_s, alive=alive)
    if waiting and not alive():
        raise IfanError("Triton stopped while the models loaded; --verbose shows its log")
    if waiting:
        raise IfanError(f"the model {', '.join(waiting)} is not ready {timeout_s:g} s after Triton started; "
                        "--verbose shows Triton's log")


def _check_ports(options: ServeOptions) -> None:
    """A port in use is found before the models load, and named."""
    import socket

    for flag, port in ((options.names("http_port"), options.http_port), (options.names("grpc_port"), options.grpc_port),
                       (options.names("metrics_port"), options.metrics_port)):
        with socket.socket(socket.AF_INET6 if ":" in options.host else socket.AF_INET) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((options.host, port))
            except OSError as exc:
                raise IfanError(f"{options.host}:{port}: cannot listen ({exc.strerror}); "
                                f"choose another {flag}") from None


def _stop_on_sigterm() -> None:
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


@dataclass(frozen=True)
class Serving:
    """What a started server serves, said once every model is ready."""
    addresses: str  # http://HOST:PORT grpc://HOST:PORT metrics http://HOST:PORT/metrics
    models: tuple[str, ...]  # the Triton model names
    model: str  # the model file (or variant) behind them
    runs_on: str  # the backend and precision
    instances: int
    max_batch: int
    pipelining: str = "one batch at a time per instance"  # batches in flight per instance, memory path

    def line(self) -> str:
        return (f"{self.addresses}; models {', '.join(self.models)}: {self.model} on {self.runs_on}, "
                f"{self.instances} instance(s), batches up to {self.max_batch}, {self.pipelining}")


def serve(open_executor: Callable[[], Executor], options: ServeOptions, model: str = "",
          on_ready: Callable[[Serving], None] | None = None) -> None:
    """Open `instances` executors, start Triton with the two models, serve until SIGINT/SIGTERM.
    on_ready(Serving) once every model is ready (default: logged)."""
    if not options.verbose:  # PyTriton leaves its shared memory to multiprocessing's tracker, which warns at exit
        os.environ.setdefault("PYTHONWARNINGS", "ignore::UserWarning:multiprocessing.resource_tracker")
    try:
        import pytriton  # noqa: F401
    except ImportError:
        raise IfanError("serving needs PyTriton: pip install 'ifan-trt[serve]' "
                        "(it requires numpy<2: use a separate environment)") from None
    if options.instances < 1 or options.max_batch < 1 or options.max_queue_delay_us < 0 or options.in_flight < 1:
        name = options.names
        raise IfanError(f"{name('instances')}, {name('max_batch')} and {name('in_flight')} must be >= 1, "
                        f"{name('max_queue_delay_us')} >= 0")
    _check_ports(options)
    executors = [open_executor() for _ in range(options.instances)]
    if executors[0].info.dual:
        for executor in executors:
            executor.close()
        raise IfanError(f"{executors[0].info.variant} needs dual-pixel views; serving takes single images")
    use_own_libpython()
    if not options.verbose:
        logging.getLogger("pytriton").setLevel(logging.ERROR)
    try:
        handlers, workers = open_handlers(executors, options)
    except BaseException:
        for executor in executors:
            executor.close()
        raise
    triton = None
    with tempfile.TemporaryDirectory(prefix="ifan_serve_") as workspace:
        try:
            _stop_on_sigterm()
            triton = _start(handlers, options, Path(workspace))
            # said only once Triton serves every model (it answers /v2/health/ready before they load)
            wait_models_ready(options.host, options.http_port, MODELS.values(), alive=triton.is_alive)
            serving = Serving(options.addresses(), tuple(MODELS.values()), model or executors[0].info.variant,
                              executors[0].describe(), options.instances, options.max_batch,
                              pipelining_line(workers, options))
            (on_ready or (lambda s: log.info("serving %s", s.line())))(serving)
            triton.serve()
        except KeyboardInterrupt:
            pass
        finally:
            if triton is not None:
                triton.stop()
            for worker in workers:  # their pipelines close on their own threads, before the engines go
                worker.close()
            for executor in executors:
                executor.close()
