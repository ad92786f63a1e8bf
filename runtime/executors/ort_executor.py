"""ONNX Runtime backend: the exported model on the CPU, or on ONNX Runtime's CUDA / TensorRT
execution providers when the installed build has them. Works for both IAC forms (the session is
made by ort_session.py)."""

from __future__ import annotations

import os
import time

import numpy as np

from ifan_trt.contract import INPUT, OUTPUT
from ifan_trt.errors import IfanError
from ifan_trt.files import require_regular_file

from ..interface.executor import Executor, ShapeLimits
from ..model_files.metadata import info_from_metadata
from .ort_session import create_session, providers_for

_NP_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(uint8)": np.uint8}


class OrtExecutor(Executor):
    backend = "onnxruntime"

    def __init__(self, onnx_path: str | os.PathLike, device: str = "auto", threads: int | None = None):
        import onnxruntime as ort

        path = str(onnx_path)
        if not os.path.exists(path):
            raise IfanError(f"{path}: no such ONNX file")
        require_regular_file(path)
        self.providers = providers_for(device, ort.get_available_providers())
        self.cpu_rewrites: dict[str, int] = {}  # what export/cpu_rewrites.py changed (CPU provider only)
        self.session = create_session(path, self.providers, threads, self.cpu_rewrites)
        self._path, self._threads, self._float_session = path, threads, None
        try:
            recorded = self.session.get_modelmeta().custom_metadata_map
        except UnicodeDecodeError:
            raise IfanError(f"{path}: malformed ifan.* metadata (not UTF-8 text)") from None
        self.info = info_from_metadata(recorded, path)
        inputs = {i.name: i for i in self.session.get_inputs()}
        if INPUT not in inputs:
            raise IfanError(f"{path}: no input tensor named 'input' (has {', '.join(inputs)})")
        self._dtypes = {name: _NP_TYPES.get(i.type, np.float32) for name, i in inputs.items()}
        self._stage_ms = {}
        try:
            shape = inputs[INPUT].shape
            if self.info.io == "uint8":  # B x H x W x 3 frames: limits in B x 3 x H x W as for any model
                shape = shape[:1] + [3] + shape[1:3] if len(shape) == 4 else shape
            self.limits = static_limits(shape)
            if self.info.io == "uint8" and self.limits.max_hw is None:  # frames of any size, padded inside
                self.limits = ShapeLimits(self.limits.min_batch, self.limits.max_batch, min_hw=(1, 1))
        except UnicodeDecodeError:
            raise IfanError(f"{path}: malformed input shape (a dimension name is not UTF-8 text)") from None

    @property
    def memory_path(self) -> str | None:
        """"pageable" on a GPU provider: run() hands ONNX Runtime NumPy arrays in pageable host
        memory, which it copies to and from the device itself; None on the CPU provider."""
        return None if self.session.get_providers()[0] == "CPUExecutionProvider" else "pageable"

    def describe(self) -> str:
        provider = self.session.get_providers()[0].replace("ExecutionProvider", "")
        io = " uint8-io" if self.info.io == "uint8" else ""
        memory = f" ({self.memory_path})" if self.memory_path else ""
        return f"onnxruntime-{provider.lower()} {self.info.precision}{io}{memory}"

    def run_frames(self, frames):
        if self.info.io != "uint8":
            return super().run_frames(frames)
        start = time.perf_counter()
        (out,) = self.session.run([OUTPUT], {INPUT: np.ascontiguousarray(frames, np.uint8)})
        self._stage_ms = {"compute": (time.perf_counter() - start) * 1e3}
        return out

    @property
    def float_reachable(self) -> bool:
        return True  # a uint8 model's float network runs in a second session (_float)

    def _float(self):
        """The session that runs float NCHW input: the model's own, or for a uint8 model one on
        the float network inside it (made on first use: 16-bit, gray or alpha images)."""
        if self.info.io != "uint8":
            return self.session
        if self._float_session is None:
            self._float_session = create_session(self._path, self.providers, self._threads, float_core=True)
        return self._float_session

    def run(self, input, left=None, right=None):
        fixed = self.limits.max_batch if self.limits.min_batch == self.limits.max_batch else None
        if fixed and input.shape[0] != fixed:  # a fixed-batch graph: pad the batch, or split it
            return self._run_fixed_batch(fixed, input, left, right)
        feeds = {INPUT: input}
        if self.info.dual:
            feeds.update(left=left, right=right)
        session = self._float()
        dtypes = self._dtypes if session is self.session else {i.name: _NP_TYPES.get(i.type, np.float32)
                                                               for i in session.get_inputs()}
        feeds = {name: np.ascontiguousarray(a, dtypes[name]) for name, a in feeds.items()}
        start = time.perf_counter()
        (out,) = session.run([OUTPUT], feeds)
        self._stage_ms = {"compute": (time.perf_counter() - start) * 1e3}
        return np.asarray(out, np.float32)

    def _run_fixed_batch(self, fixed: int, input, left, right):
        """Batches of exactly `fixed`: the last one filled with copies of its last image."""
        outs, total_ms = [], 0.0
        for i in range(0, input.shape[0], fixed):
            parts = [None if a is None else a[i:i + fixed] for a in (input, left, right)]
            n = parts[0].shape[0]
            parts = [None if a is None else np.concatenate([a] + [a[-1:]] * (fixed - n)) for a in parts]
            outs.append(self.run(*parts)[:n])
            total_ms += self._stage_ms["compute"]
        self._stage_ms = {"compute": total_ms}
        return np.concatenate(outs)


def static_limits(shape: list) -> ShapeLimits:
    """The sizes a graph's input accepts: fixed where its batch, height or width are numbers (a
    static export), open where they are named (dynamic)."""
    fixed = lambda d: isinstance(d, int) and d > 0
    limits = ShapeLimits()
    if len(shape) == 4 and fixed(shape[0]):
        limits = ShapeLimits(min_batch=shape[0], max_batch=shape[0])
    if len(shape) == 4 and fixed(shape[2]) and fixed(shape[3]):
        hw = (shape[2], shape[3])
        limits = ShapeLimits(min_batch=limits.min_batch, max_batch=limits.max_batch, min_hw=hw, max_hw=hw)
    return limits
