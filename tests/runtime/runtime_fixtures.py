"""Helpers for the runtime tests: one small seeded IFAN (ch=8, N=2), its checkpoint and its ONNX
exports (each made once per process: an export costs ~10 s on 2 cores), tiny videos, and a fake
executor for the logic that does not need a network.

A module, not a conftest.py: test modules elsewhere import the top-level tests/conftest.py as
`conftest`, which a second conftest.py would shadow. Test modules import the `models` fixture
from here."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from ifan_trt.runtime.executor import Executor, ModelInfo, ShapeLimits


def small_model(seed: int = 0, scale: float = 0.06):
    """ch=8, N=2; weights ~ N(0, 0.06): every layer moves the output visibly without saturating it."""
    torch = pytest.importorskip("torch")
    from ifan_trt.model import IFAN, IFANConfig

    torch.manual_seed(seed)
    model = IFAN(IFANConfig(ch=8, n_iters=2))
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, scale)
    return model.eval()


_MODELS: dict[str, Path] = {}
_FOLDER: list[Path] = []


def model_path(kind: str) -> Path:
    """kind in checkpoint / onnx (standard-op IAC) / plugin (IFAN_IAC node); made once per process."""
    if kind not in _MODELS:
        if not _FOLDER:
            _FOLDER.append(Path(tempfile.mkdtemp(prefix="ifan_runtime_tests_")))
            atexit.register(shutil.rmtree, _FOLDER[0], ignore_errors=True)
        checkpoint = _FOLDER[0] / "small.pth"
        if not checkpoint.exists():
            from ifan_trt.checkpoint import save_checkpoint

            save_checkpoint(small_model(), checkpoint)
        if kind == "checkpoint":
            _MODELS[kind] = checkpoint
        else:
            from ifan_trt.export import export_onnx

            _MODELS[kind] = export_onnx(checkpoint, _FOLDER[0] / f"small_{kind}.onnx", iac_form=kind).path
    return _MODELS[kind]


@pytest.fixture
def models():
    """models(kind) -> path of the small model as a checkpoint or an ONNX export."""
    return model_path


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
