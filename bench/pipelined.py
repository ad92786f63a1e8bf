"""Serial vs pipelined TensorRT execution in frames per second, computed on the TensorRT and CUDA
stand-ins (tests/helpers/fake_tensorrt.py, fake_cuda.py) in simulated time: each upload, kernel
and download takes a given time on its engine (one copy engine each way, one compute engine), the
host spends a given time per frame (decode, pre- and post-processing), and the frame rate follows
from the simulated clocks, never from wall clocks. It checks the executor's scheduling (what
overlaps with what), not a GPU's speed.

    python -m bench.pipelined                      # host time = device time = 6 ms per frame
    python -m bench.pipelined --host-ms 12 --compute-ms 8 --integrated

The "serving" rows run the loop of `ifan serve`'s pipeline worker (runtime/images/pipeline_worker.py)
with a batch always waiting, as on a loaded server, each batch's wire conversions counted as the
host time.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
from pathlib import Path

import numpy as np

DEPTHS = (2, 3)


def _engine(folder: Path, monkeypatch, gpu):
    from tests.helpers import fake_tensorrt
    from tests.helpers.build import tiny_graph

    fake_tensorrt.install(monkeypatch, "10.3.0.26", gpu, bindings=("cuda-python",))
    monkeypatch.setenv("IFAN_TRT_PLUGIN", str(fake_tensorrt.write_plugin_library(folder, 10)))
    onnx_path = tiny_graph(folder / "tiny.onnx", plugin=True, n_iters=2)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):  # the build report
        return fake_tensorrt.build(onnx_path, folder / "tiny.plan", "--iac-split", "off",
                                   "--shapes", "min=1x3x8x8,opt=1x3x32x32,max=1x3x64x64")


def frame_rates(frames: int = 60, host_ms: float = 6.0, h2d_ms: float = 1.0, compute_ms: float = 4.0,
                d2h_ms: float = 1.0, depths=DEPTHS, integrated: bool = False) -> list[dict]:
    """One row per configuration: {"path", "depth", "memory", "fps"} in simulated frames per second."""
    import logging

    import pytest

    from ifan_trt.runtime.tensorrt.executor import TrtExecutor
    from tests.helpers.fake_cuda import FakeGpu, SimulatedTime

    logging.getLogger("ifan").setLevel(logging.ERROR)
    gpu = FakeGpu(integrated=integrated, simulated=SimulatedTime(h2d_ms=h2d_ms, compute_ms=compute_ms, d2h_ms=d2h_ms))
    x = np.random.default_rng(0).random((1, 3, 32, 32)).astype(np.float32)
    rows = []
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as monkeypatch:
        engine = _engine(Path(tmp), monkeypatch, gpu)
        with TrtExecutor(engine) as ex:
            start = gpu.host_ms
            for _ in range(frames):
                gpu.spend_host(host_ms)
                ex.run(x)
            rows.append({"path": "serial", "depth": 1, "memory": ex.memory_path,
                         "fps": frames / (gpu.host_ms - start) * 1e3})
            for depth in depths:
                start = gpu.host_ms
                with ex.pipeline(depth) as pipe:
                    for _ in range(frames):
                        gpu.spend_host(host_ms)
                        if pipe.full:
                            pipe.collect()
                        pipe.submit(x)
                    while pipe.in_flight:
                        pipe.collect()
                rows.append({"path": "pipelined", "depth": depth, "memory": ex.memory_path,
                             "fps": frames / (gpu.host_ms - start) * 1e3})
            for depth in depths:
                rows.append({"path": "serving batches", "depth": depth, "memory": ex.memory_path,
                             "fps": _serving_rate(ex, gpu, x, frames, host_ms, depth)})
    return rows


def _serving_rate(ex, gpu, x, frames: int, host_ms: float, depth: int) -> float:
    """Batches per second of the serving worker's loop (run_jobs) in simulated time."""
    from ifan_trt.runtime.images.pipeline_worker import _STOP, Job, run_jobs

    issued = []

    def next_job(block):
        if len(issued) == frames:
            return _STOP
        gpu.spend_host(host_ms)
        issued.append(Job(input=x))
        return issued[-1]

    start = gpu.host_ms
    with ex.pipeline(depth) as pipe:
        run_jobs(pipe, next_job)
    return frames / (gpu.host_ms - start) * 1e3


def table(rows: list[dict]) -> str:
    serial = rows[0]["fps"]
    lines = ["| path | frames in flight | memory | frames/s (simulated) | vs serial |",
             "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['path']} | {r['depth']} | {r['memory']} | {r['fps']:.1f} | {r['fps'] / serial:.2f}x |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--host-ms", type=float, default=6.0, help="host work per frame (simulated ms)")
    parser.add_argument("--h2d-ms", type=float, default=1.0)
    parser.add_argument("--compute-ms", type=float, default=4.0)
    parser.add_argument("--d2h-ms", type=float, default=1.0)
    parser.add_argument("--integrated", action="store_true", help="an integrated GPU (Jetson): zero-copy buffers")
    args = parser.parse_args(argv)
    if args.integrated:  # mapped memory: the copies do not happen, so they take no time either
        args.h2d_ms = args.d2h_ms = 0.0
    rows = frame_rates(args.frames, args.host_ms, args.h2d_ms, args.compute_ms, args.d2h_ms,
                       integrated=args.integrated)
    device = args.h2d_ms + args.compute_ms + args.d2h_ms
    print(f"per frame: host {args.host_ms:g} ms, device {device:g} ms (upload {args.h2d_ms:g}, compute "
          f"{args.compute_ms:g}, download {args.d2h_ms:g}); {args.frames} frames")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
