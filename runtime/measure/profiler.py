"""End-to-end latency of the whole pipeline around an executor, stage by stage:
decode (JPEG -> pixels) -> preprocess (RGB float, pad, NCHW) -> H2D -> compute -> D2H ->
postprocess (crop, 8-bit BGR). CPU backends have no transfers; TensorRT reports H2D, compute and
D2H from CUDA events, and what its run() spends outside them (pinned staging, sync) as "other"."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from ifan_trt.errors import IfanError
from ifan_trt.progress import Bars, bar
from ifan_trt.sizes import parse_tensor_shape

from . import stats
from ..interface.executor import Executor
from ..images.pipeline import (batch_to_frames, bgr_to_rgb_float, frames_to_batch, infer, network_input, network_output,
                               rgb_float_to_bgr, run_frame_batch, takes_frames)

LAYER_RUNS = 5  # profiled runs averaged for the per-layer times
STAGES = ("decode", "preprocess", "h2d", "compute", "d2h", "other", "postprocess")


@dataclass
class ProfileResult:
    label: str
    backend: str  # executor.describe()
    shape: tuple[int, int, int, int]
    e2e_ms: list[float] = field(default_factory=list)
    stage_ms: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STAGES})
    gpu_ms: list[float] = field(default_factory=list)
    layer_ms: dict[str, float] = field(default_factory=dict)
    power: dict | None = None  # runtime/measure/power.py's report over the timed runs (Jetson), with the board state

    @property
    def summary(self) -> stats.Summary:
        return stats.summarize(self.e2e_ms)

    def stage_means(self) -> dict[str, float]:
        return {s: float(np.mean(v)) for s, v in self.stage_ms.items() if v}

    @property
    def throughput(self) -> float:
        return stats.throughput(self.summary.mean, self.shape[0])

    @property
    def warnings(self) -> list[str]:
        return stats.warnings_for(self.summary, self.stage_means())

    def to_dict(self) -> dict:
        out = {"label": self.label, "backend": self.backend, "shape": list(self.shape),
               "latency_ms": self.summary.to_dict(), "throughput_img_s": self.throughput,
               "stage_mean_ms": self.stage_means(), "warnings": self.warnings, "iterations_ms": self.e2e_ms}
        if self.gpu_ms:
            out["gpu_compute_ms"] = stats.summarize(self.gpu_ms).to_dict()
        if self.layer_ms:
            out["layer_mean_ms"] = self.layer_ms
        if self.power:
            out["power"] = self.power
        return out


def parse_shape(text: str) -> tuple[int, int, int, int]:
    """"BxCxHxW" (or "HxW" for one image, or trtexec's "input:BxCxHxW")."""
    return parse_tensor_shape(text, "--shape")


def synthetic_jpegs(shape: tuple[int, int, int, int], seed: int = 0) -> list[bytes]:
    """Camera-like frames (smooth colour fields plus noise) as JPEG bytes: decode work is realistic."""
    b, _, h, w = shape
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(b):
        small = rng.random((max(2, h // 64), max(2, w // 64), 3)).astype(np.float32)
        img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC) + 0.03 * rng.standard_normal((h, w, 3))
        ok, buf = cv2.imencode(".jpg", np.clip(img * 255, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 90])
        frames.append(buf.tobytes())
    return frames


def _one(executor: Executor, jpegs: list[bytes], h: int, w: int) -> dict[str, float]:
    clock = time.perf_counter
    t0 = clock()
    bgr = [cv2.imdecode(np.frombuffer(j, np.uint8), cv2.IMREAD_COLOR) for j in jpegs]
    t1 = clock()
    if takes_frames(executor, h, w):  # a uint8 model: the frames as they are, conversions in the graph
        x = frames_to_batch(executor, bgr, "bgr")
        t2 = clock()
        out = run_frame_batch(executor, x)
        t3 = clock()
        frames = batch_to_frames(executor, out, "bgr")
    else:
        x = network_input(executor, [bgr_to_rgb_float(f) for f in bgr])
        t2 = clock()
        out = infer(executor, x)  # whole, or padded/tiled to a static model's shape
        t3 = clock()
        frames = [rgb_float_to_bgr(f) for f in network_output(out, h, w)]
    t4 = clock()
    del frames
    ms = lambda a, b: (b - a) * 1e3
    inner = dict(executor.stage_ms)
    run_ms = ms(t2, t3)
    stage = {"decode": ms(t0, t1), "preprocess": ms(t1, t2), "postprocess": ms(t3, t4)}
    if "h2d" in inner:  # GPU backend: event times, plus the host work around them
        stage.update(h2d=inner["h2d"], compute=inner["compute"], d2h=inner["d2h"],
                     other=max(0.0, run_ms - inner["h2d"] - inner["compute"] - inner["d2h"]))
        stage["gpu_compute"] = inner.get("gpu_compute", inner["compute"])
    else:
        stage["compute"] = run_ms
    stage["e2e"] = ms(t0, t4)
    return stage


def profile(executor: Executor, shape: tuple[int, int, int, int], label: str, warmup: int = 3,
            iterations: int | None = 20, duration: float | None = None, layers: bool = False,
            progress: Bars | None = None, power=None) -> ProfileResult:
    """Warm up, then measure `iterations` runs or as many as fit in `duration` seconds. power: a
    runtime.measure.power.PowerSampler, sampling the board's rails during the timed runs (not the warm-up
    or the per-layer pass). progress: a bar for the timed runs (ifan_trt.progress)."""
    b, _, h, w = shape
    if b > executor.max_batch(h, w):
        raise IfanError(f"--shape {'x'.join(map(str, shape))}: {label} accepts at most batch "
                        f"{executor.max_batch(h, w)} at {h}x{w}")
    jpegs = synthetic_jpegs(shape)
    for _ in range(warmup):
        _one(executor, jpegs, h, w)
    result = ProfileResult(label, executor.describe(), shape)
    deadline = time.perf_counter() + duration if duration else None
    total = None if deadline else iterations
    if power is not None:
        power.start()
    with bar(progress, total=total, desc=label, unit="it") as runs_bar:
        while (deadline and time.perf_counter() < deadline) or (not deadline and len(result.e2e_ms) < iterations):
            stage = _one(executor, jpegs, h, w)
            result.e2e_ms.append(stage.pop("e2e"))
            if "gpu_compute" in stage:
                result.gpu_ms.append(stage.pop("gpu_compute"))
            for name, value in stage.items():
                result.stage_ms[name].append(value)
            runs_bar.update()
    if power is not None:
        result.power = power.stop(frames=len(result.e2e_ms) * b).to_dict()
    result.stage_ms = {k: v for k, v in result.stage_ms.items() if v}
    if layers and hasattr(executor, "enable_layer_profiling"):
        # a separate pass: the per-layer profiler synchronises after every layer (and turns CUDA
        # graphs off), so it must not slow down the runs timed above
        executor.enable_layer_profiling()
        for _ in range(LAYER_RUNS):
            executor.run(np.zeros(shape, np.float32))
        result.layer_ms = executor.layer_times()
    return result
