"""Check an exported IFAN graph: ONNX checker (full), strict shape inference, and ONNX Runtime
on the CPU against the PyTorch model it came from (max abs error and PSNR)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ifan_trt.errors import IfanError
from ifan_trt.files import require_regular_file
from ifan_trt.metrics import psnr

from ifan_trt.contract import INPUT, LEFT, META, RIGHT, SIZE_MULTIPLE
from ifan_trt.export.graph import read_metadata
from .ort_plugin import load_model, ort_session

# max abs error allowed against the FP32 PyTorch model, per ifan.precision of the graph
TOLERANCES = {"fp32": 1e-4, "fp16": 5e-2, "int8": 0.25, "int8-fp16": 0.25}
DEFAULT_SHAPE = (120, 200)  # non-square, not a multiple of 16: cheap and still telling


@dataclass
class VerifyReport:
    path: Path
    metadata: dict
    shape: tuple[int, int, int]  # batch, height, width that ran
    checks: list[str] = field(default_factory=list)  # structural checks that passed
    max_abs_error: float | None = None  # None: no reference model given
    psnr_db: float | None = None
    tolerance: float | None = None

    @property
    def passed(self) -> bool:
        return self.max_abs_error is None or self.max_abs_error <= self.tolerance

    def lines(self) -> list[str]:
        b, h, w = self.shape
        out = [f"{self.path}: {', '.join(self.checks)}"]
        if self.max_abs_error is None:
            out.append(f"ran in ONNX Runtime at {b}x3x{h}x{w}; no reference compared (pass a checkpoint)")
        else:
            verdict = "PASS" if self.passed else "FAIL"
            out.append(f"ONNX Runtime vs PyTorch at {b}x3x{h}x{w}: max abs error {self.max_abs_error:.3g}, "
                       f"PSNR {self.psnr_db:.1f} dB (tolerance {self.tolerance:g}): {verdict}")
        return out


def synthetic_images(batch: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """Deterministic test images in [0, 1]: smooth colour fields, edges and a little noise
    (closer to photographs than uniform noise, so the network's ranges are exercised)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.meshgrid(np.linspace(0, 1, height), np.linspace(0, 1, width), indexing="ij")
    images = np.empty((batch, 3, height, width), np.float32)
    for b in range(batch):
        for c in range(3):
            fx, fy, phase = rng.uniform(1, 6, 2).tolist() + [rng.uniform(0, 6.3)]
            field_ = 0.5 + 0.3 * np.sin(fx * 6.28 * xx + phase) * np.cos(fy * 6.28 * yy)
            field_ += 0.2 * ((xx > rng.uniform(0.2, 0.8)) ^ (yy > rng.uniform(0.2, 0.8)))
            images[b, c] = field_ + rng.normal(0, 0.02, field_.shape)
    return np.clip(images, 0, 1)


def _static_shape(model, uint8: bool = False) -> tuple[int | None, int | None, int | None]:
    """(batch, height, width) where fixed; uint8 models take B x H x W x 3 frames."""
    dims = model.graph.input[0].type.tensor_type.shape.dim
    hw = dims[1:3] if uint8 else dims[2:4]
    return tuple(d.dim_value if d.HasField("dim_value") else None for d in [dims[0], *hw])


def structural_checks(model, path: Path) -> list[str]:
    """onnx.checker full check and strict shape inference; IfanError on failure."""
    import onnx

    try:
        onnx.checker.check_model(model, full_check=True)
        onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True, data_prop=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise IfanError(f"{path}: invalid ONNX graph ({first})") from None
    return ["onnx.checker full check OK", "strict shape inference OK"]


def _reference(reference, metadata: dict, path: Path):
    """The PyTorch IFAN to compare with, loaded with the graph's in_bit and IAC mode."""
    from ifan_trt.checkpoint import LoadedModel, load_checkpoint

    if isinstance(reference, (str, os.PathLike)):
        reference = load_checkpoint(reference, in_bit=int(metadata.get(META.in_bit, 8)),
                                    iac_mode=metadata.get(META.iac_mode, "official"))
    if isinstance(reference, LoadedModel):
        recorded = metadata.get(META.checkpoint_sha256, "unknown")
        if recorded not in ("unknown", reference.sha256):
            raise IfanError(f"{path}: exported from a checkpoint with SHA-256 {recorded[:12]}..., "
                            f"not {reference.path} ({reference.sha256[:12]}...); pass the same checkpoint")
        reference = reference.model
    mine = (reference.config.variant, str(reference.config.n_iters), reference.config.iac_mode)
    theirs = (metadata.get(META.variant), metadata.get(META.n_iters), metadata.get(META.iac_mode))
    if None not in theirs and mine != theirs:
        raise IfanError(f"{path}: graph is {theirs[0]} (N={theirs[1]}, {theirs[2]} IAC); the reference "
                        f"model is {mine[0]} (N={mine[1]}, {mine[2]} IAC)")
    return reference.eval()


def verify_onnx(path, reference=None, shape: tuple[int, int] | None = None, batch: int = 1,
                tolerance: float | None = None, seed: int = 0) -> VerifyReport:
    """Check the ONNX file at path; with reference (checkpoint path, LoadedModel or IFAN) also
    compare ONNX Runtime's output with PyTorch's on synthetic images of shape (H, W)."""
    path = Path(path)
    if not path.exists():
        raise IfanError(f"{path}: ONNX file not found")
    require_regular_file(path)
    try:
        model = load_model(path)
    except Exception as exc:  # protobuf decode errors have no common public type
        raise IfanError(f"{path}: not a readable ONNX file ({type(exc).__name__})") from None
    metadata = read_metadata(model)
    checks = structural_checks(model, path)
    uint8 = metadata.get(META.io) == "uint8"
    static_b, static_h, static_w = _static_shape(model, uint8)
    if shape is None:
        shape = (static_h or DEFAULT_SHAPE[0], static_w or DEFAULT_SHAPE[1])
    h, w = shape
    if h % SIZE_MULTIPLE or w % SIZE_MULTIPLE:
        raise IfanError(f"verify shape {h}x{w}: height and width must be multiples of {SIZE_MULTIPLE}")
    if (static_h, static_w) != (None, None) and (static_h, static_w) != (h, w):
        raise IfanError(f"{path}: the graph has a static {static_h}x{static_w} input; verify at that shape")
    batch = static_b or batch

    session = ort_session(model)
    del model
    # one image per graph input (input, left, right), in the input's float type
    feeds = {i.name: synthetic_images(batch, h, w, seed + j).astype(np.float16 if "float16" in i.type else np.float32)
             for j, i in enumerate(session.get_inputs())}
    if uint8:  # 8-bit frames in the model's channel order; compared as code / 255 below
        flip = slice(None, None, -1 if metadata.get(META.channel_order) == "bgr" else 1)
        codes = np.rint(feeds[INPUT] * 255).astype(np.uint8)
        feeds[INPUT] = codes / np.float32(255)
        output = session.run(None, {INPUT: np.ascontiguousarray(codes.transpose(0, 2, 3, 1)[..., flip])})[0]
        output = output[..., flip].transpose(0, 3, 1, 2).astype(np.float32) / 255
    else:
        output = session.run(None, feeds)[0]
    checks.append("ONNX Runtime CPU run OK" + (" (uint8 frames)" if uint8 else ""))
    report = VerifyReport(path, metadata, (batch, h, w), checks)
    if reference is None:
        return report

    import torch

    network = _reference(reference, metadata, path)
    with torch.no_grad():
        args = [torch.from_numpy(feeds[n].astype(np.float32)) for n in (INPUT, LEFT, RIGHT) if n in feeds]
        expected = network(*args).numpy()
    diff = output.astype(np.float64) - expected.astype(np.float64)
    report.max_abs_error = float(np.max(np.abs(diff)))
    report.psnr_db = psnr(output.astype(np.float64), expected.astype(np.float64))
    report.tolerance = tolerance if tolerance is not None else TOLERANCES.get(
        metadata.get(META.precision, "fp32"), TOLERANCES["fp32"]) + (0.5 / 255 if uint8 else 0.0)  # the rounding
    return report
