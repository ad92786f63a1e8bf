"""Helpers for the runtime tests: tiny scenes and videos, a fake executor for the logic that
does not need a network, and a torch-free stand-in ONNX model (output = 1 - input). The small
model's checkpoint and exports are the `models` fixture of tests/conftest.py."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ifan_trt.runtime.interface.executor import Executor, ModelInfo, ShapeLimits


def scene(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth colour field with a little noise, H x W x 3 float32 RGB in [0, 1]."""
    rng = np.random.default_rng(seed)
    small = rng.random((max(2, h // 16), max(2, w // 16), 3)).astype(np.float32)
    img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC) + 0.02 * rng.standard_normal((h, w, 3))
    return np.clip(img, 0, 1).astype(np.float32)


def write_video(path, frames: int = 10, size=(48, 64), fps: float = 25.0) -> list[np.ndarray]:
    """A short mp4v clip (a disc moving over a bright background); returns the frames written."""
    h, w = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    assert writer.isOpened()
    written = []
    for i in range(frames):
        frame = np.full((h, w, 3), 190, np.uint8)
        frame[:, :, 0] = 150 + 4 * (i % 20)
        cv2.circle(frame, (8 + 4 * (i % 20), h // 2), max(3, h // 6), (40, 70, 110), -1)
        writer.write(frame)
        written.append(frame)
    writer.release()
    return written


class FakeExecutor(Executor):
    """out = f(in) per pixel (default: identity); records the batch shapes it was given."""

    backend = "fake"
    model_path = "fake.onnx"  # what open_executor records on a real executor

    def __init__(self, fn=lambda x: x, limits: ShapeLimits = ShapeLimits(), stage_ms=None):
        self.fn, self.limits, self.calls = fn, limits, []
        self.info = ModelInfo(variant="fake")
        self._fixed_stage = stage_ms

    def run(self, input, left=None, right=None):
        self.calls.append(tuple(input.shape))
        b, _, h, w = input.shape
        assert h % 8 == 0 and w % 8 == 0 and self.limits.fits_hw(h, w)
        if self.limits.max_batch is not None:
            assert b <= self.limits.max_batch
        self._stage_ms = dict(self._fixed_stage or {"compute": 1.0})
        return self.fn(input).astype(np.float32)


def inverting_onnx(path) -> Path:
    """A stand-in model without torch: output = 1 - input, with the ifan.* metadata the runtime
    reads (for the system-OpenCV tests, whose environment has no torch). Its output differs from
    its input everywhere but at mid-grey, so the two halves of a view are told apart."""
    import onnx
    from onnx import TensorProto, helper

    one = helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])
    graph = helper.make_graph([helper.make_node("Sub", ["one", "input"], ["output"])], "invert",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["B", 3, "H", "W"])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["B", 3, "H", "W"])],
                              initializer=[one])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, {"ifan.variant": "IFAN", "ifan.n_iters": "2", "ifan.precision": "fp32",
                                   "ifan.iac_form": "onnx"})
    onnx.save(model, str(path))
    return Path(path)
