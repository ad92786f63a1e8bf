"""Serving batches pipelined: Triton's model instances (here: plain threads, as PyTriton calls them
from threads of its own) hand their batches to one PipelineWorker per engine, whose thread makes
every CUDA call; the answers equal the serial path's, and in simulated time (the TensorRT and CUDA
stand-ins) a loaded server keeps several batches in flight."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from ifan_trt.runtime.images.pipeline import Tiling
from ifan_trt.runtime.images.pipeline_worker import Job, run_jobs
from ifan_trt.runtime.serving.serve import ImageHandler, ServeOptions, open_handlers, pipelining_line
from ifan_trt.runtime.serving.serve_protocol import DEFAULT_MAX_IMAGE_PIXELS, from_wire
from ifan_trt.runtime.images.streaming import prepare_images
from ifan_trt.runtime.tensorrt.executor import TrtExecutor
from ifan_trt.runtime.tensorrt.pipelined import TrtPipeline
from tests.helpers.fake_cuda import SimulatedTime
from tests.helpers.serve import make_array
from tests.runtime.test_pipelined import standin  # noqa: F401  (fixture)


def _batches(io: str):
    """Triton batches as they arrive: same-size 8-bit RGB, and (float engines) gray, alpha and
    16-bit images, and one too large for the engine (tiled on the serial path)."""
    batches = [np.stack([make_array(24, 40, 3, np.uint8, seed=10 * b + i) for i in range(n)])
               for b, n in enumerate((2, 1, 2, 2, 1, 2))]
    batches.append(np.stack([make_array(30, 22, 3, np.uint8, seed=99)]))  # another size
    if io == "float":
        batches += [make_array(24, 40, 1, np.uint8, seed=5)[None], make_array(24, 40, 4, np.uint8, seed=6)[None],
                    np.stack([make_array(24, 40, 3, np.uint16, seed=7 + i) for i in range(2)]),
                    make_array(80, 72, 3, np.uint8, seed=8)[None]]  # above the engine's 64x64: tiles
    return batches


@pytest.mark.parametrize("binding", ["cuda-python", "pycuda"])
@pytest.mark.parametrize("io", ["float", "uint8"])
def test_batches_from_triton_threads_equal_the_serial_path_and_stay_on_the_worker_thread(standin, binding, io,
                                                                                        monkeypatch):
    engine, gpu, _ = standin(binding, io=io)
    batches = _batches(io)
    tiling = Tiling(max_pixels=DEFAULT_MAX_IMAGE_PIXELS)
    with TrtExecutor(engine, cuda=binding) as serial:
        reference = ImageHandler(serial, tiling, DEFAULT_MAX_IMAGE_PIXELS)
        want = [reference(b) for b in batches]
    threads_seen = []
    for name in ("__init__", "submit", "collect", "close"):
        original = getattr(TrtPipeline, name)

        def recorded(self, *args, _original=original, **kwargs):
            threads_seen.append((_original.__name__, threading.current_thread().name))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(TrtPipeline, name, recorded)
    options = ServeOptions(in_flight=3, tiling=tiling)
    with TrtExecutor(engine, cuda=binding) as ex:
        handlers, workers = open_handlers([ex], options)
        assert len(handlers) == 3 and len(workers) == 1 and all(h.worker is workers[0] for h in handlers)
        got: list = [None] * len(batches)
        errors: list = []

        def instance(k):  # one Triton model instance: its own thread, its share of the batches
            try:
                for i in range(k, len(batches), len(handlers)):
                    got[i] = handlers[k](batches[i])
            except Exception as exc:  # noqa: BLE001  reported below
                errors.append(repr(exc))

        callers = [threading.Thread(target=instance, args=(k,), name=f"triton-instance-{k}") for k in range(3)]
        for t in callers:
            t.start()
        for t in callers:
            t.join(120)
        line = pipelining_line(workers, options)
        for worker in workers:
            worker.close()
    assert not errors
    for w, g in zip(want, got):
        assert g.dtype == w.dtype and g.shape == w.shape
        assert np.array_equal(g, w)  # same engine, same arithmetic: equal sample for sample
    submits = [t for name, t in threads_seen if name == "submit"]
    tiled = 1 if io == "float" else 0  # the 80x72 image: tiles, on the serial path (on the worker's thread too)
    assert len(submits) == len(batches) - tiled
    assert [c for c in threads_seen if c[1] != "ifan-pipeline"] == []  # every CUDA call of the pipeline on the worker's thread
    assert line.startswith("3 batches in flight per instance, memory path copy, activation memory ")
    assert gpu.live() == {}


def test_a_loaded_server_reaches_1_8x_the_serial_batch_rate(standin):
    """run_jobs, the worker's loop, with a batch waiting whenever it asks (a loaded server) and
    host work per batch (conversions from and to the wire) equal to the simulated device time:
    frames per second from the simulated clocks, against one batch at a time."""
    sim = SimulatedTime(h2d_ms=1.0, compute_ms=4.0, d2h_ms=1.0)
    host_ms = sim.h2d_ms + sim.compute_ms + sim.d2h_ms
    engine, gpu, _ = standin(simulated=sim)
    images = [[from_wire(make_array(24, 40, 3, np.uint8, seed=i))] for i in range(30)]
    with TrtExecutor(engine) as ex:
        start = gpu.host_ms
        serial = []
        for batch in images:
            gpu.spend_host(host_ms)
            prepared = prepare_images(ex, batch)
            serial.append(prepared.finish(ex.run(prepared.input)))
        serial_fps = len(images) / (gpu.host_ms - start) * 1e3

        jobs = []
        def next_job(block):
            if len(jobs) == len(images):
                return _stop()
            gpu.spend_host(host_ms)
            prepared = prepare_images(ex, images[len(jobs)])
            jobs.append((Job(input=prepared.input), prepared.finish))
            return jobs[-1][0]

        start = gpu.host_ms
        with ex.pipeline(3) as pipe:
            run_jobs(pipe, next_job)
        pipelined_fps = len(images) / (gpu.host_ms - start) * 1e3
    assert serial_fps == pytest.approx(1e3 / (2 * host_ms))
    assert pipelined_fps >= 1.8 * serial_fps
    for (job, finish), want in zip(jobs, serial):
        assert np.array_equal(finish(job.wait())[0].rgb, want[0].rgb)
    assert gpu.unordered_block_uses == []


def _stop():
    from ifan_trt.runtime.images.pipeline_worker import _STOP

    return _STOP


def test_cpu_backends_and_in_flight_1_keep_one_handler_per_executor():
    from tests.helpers.runtime import FakeExecutor

    ex = FakeExecutor(fn=lambda x: 1 - x)
    handlers, workers = open_handlers([ex, ex], ServeOptions(in_flight=3))
    assert len(handlers) == 2 and workers == [] and all(h.worker is None for h in handlers)
    assert pipelining_line(workers, ServeOptions()) == "one batch at a time per instance"


def test_a_failing_batch_fails_its_caller_only(standin):
    engine, gpu, _ = standin()
    with TrtExecutor(engine) as ex:
        handlers, workers = open_handlers([ex], ServeOptions(in_flight=2))
        with pytest.raises(Exception, match="image: sample type float32"):
            handlers[0](np.zeros((1, 8, 8, 3), np.float32))
        with pytest.raises(ZeroDivisionError):
            workers[0].call(lambda: 1 / 0)
        ok = handlers[1](make_array(24, 40, 3, np.uint8)[None])
        assert ok.shape == (1, 24, 40, 3)
        workers[0].close()
        with pytest.raises(Exception, match="the pipeline is closed: the server is stopping"):
            workers[0].run(np.zeros((1, 3, 24, 40), np.float32))
    assert gpu.live() == {}
