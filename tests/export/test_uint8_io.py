"""uint8 models (`ifan export --io uint8`): frames in and out, the conversions inside the graph.

Checked code value by code value against the float path of the same model on the host
(runtime/images/video.py's conversions, the pipeline's edge padding and crop), at sizes that are not
multiples of 8, in both channel orders and both IAC forms; the float network is recovered exactly.
"""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from ifan_trt.contract import META  # noqa: E402
from ifan_trt.errors import IfanError  # noqa: E402


@pytest.fixture(scope="module")
def uint8_exports(models, tmp_path_factory):
    """(form, order) -> path of the small model's uint8 export."""
    from ifan_trt.export import export_onnx

    folder = tmp_path_factory.mktemp("uint8")
    made = {}

    def get(form: str, order: str):
        if (form, order) not in made:
            made[form, order] = export_onnx(models("checkpoint"), folder / f"u8_{form}_{order}.onnx", iac_form=form,
                                            io="uint8", channel_order=order).path
        return made[form, order]

    return get


def float_path(session, frames: np.ndarray, order: str) -> np.ndarray:
    """What the pipeline's float path makes of 8-bit frames: RGB / 255, edge-padded to 8, NCHW,
    the network, cropped, x 255 rounded half up, back to the frames' order."""
    from ifan_trt.runtime.images.padding import pad_to_multiple

    b, h, w, _ = frames.shape
    rgb = frames[..., ::-1] if order == "bgr" else frames
    x = np.stack([pad_to_multiple(f.astype(np.float32) / np.float32(255.0)).transpose(2, 0, 1) for f in rgb])
    y = session.run(["output"], {"input": x})[0][:, :, :h, :w].transpose(0, 2, 3, 1)
    codes = (np.clip(y, 0, 1) * 255.0 + 0.5).astype(np.uint8)
    return codes[..., ::-1] if order == "bgr" else codes


@pytest.mark.parametrize("form", ["onnx", "plugin"])
@pytest.mark.parametrize("order", ["bgr", "rgb"])
def test_uint8_model_equals_float_path_within_one_code(models, uint8_exports, form, order):
    from ifan_trt.export import ort_session

    floating = ort_session(str(models(form)))
    frames_model = ort_session(str(uint8_exports(form, order)))
    rng = np.random.default_rng(3)
    for b, h, w in [(2, 37, 53), (1, 64, 96), (1, 1, 1), (1, 17, 8)]:
        frames = rng.integers(0, 256, (b, h, w, 3), dtype=np.uint8)
        out = frames_model.run(["output"], {"input": frames})[0]
        assert out.dtype == np.uint8 and out.shape == frames.shape
        diff = np.abs(out.astype(int) - float_path(floating, frames, order).astype(int))
        assert diff.max() <= 1, (b, h, w, diff.max())


def test_uint8_graph_io_and_metadata(uint8_exports):
    """The frame is the graph's I/O (B x H x W x 3 uint8, H and W dynamic and unconstrained); the
    first op on it is the Cast and the last a Cast of the clipped, rounded (+0.5, Floor) values, so
    the graph never casts an unrounded or out-of-range float to uint8 (TensorRT's UINT8 truncates)."""
    model = onnx.load(uint8_exports("plugin", "bgr"))
    (i,), (o,) = model.graph.input, model.graph.output
    for v in (i, o):
        assert v.type.tensor_type.elem_type == onnx.TensorProto.UINT8
        dims = v.type.tensor_type.shape.dim
        assert [d.dim_param or d.dim_value for d in dims] == ["batch", "frame_height", "frame_width", 3]
    readers = [n for n in model.graph.node if "input" in n.input]
    assert [n.op_type for n in readers] == ["Cast"]  # TensorRT: UINT8 network inputs go only into a cast
    producers = {out: n for n in model.graph.node for out in n.output}
    chain, name = [], "output"
    for _ in range(6):  # the output's producers, last first
        node = producers[name]
        chain.append(node.op_type)
        name = node.input[0]
    assert chain == ["Cast", "Transpose", "Floor", "Add", "Mul", "Clip"]
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta[META.io] == "uint8" and meta[META.channel_order] == "bgr"


@pytest.mark.parametrize("form", ["onnx", "plugin"])
def test_float_core_is_the_float_export(models, uint8_exports, form):
    from ifan_trt.export.uint8_io import float_core

    floating = onnx.load(models(form))
    core = float_core(onnx.load(uint8_exports(form, "rgb")))
    assert core.graph.input == floating.graph.input and core.graph.output == floating.graph.output
    assert [n.SerializeToString() for n in core.graph.node] == [n.SerializeToString() for n in floating.graph.node]
    assert {t.name for t in core.graph.initializer} == {t.name for t in floating.graph.initializer}
    assert {p.key: p.value for p in core.metadata_props} == {p.key: p.value for p in floating.metadata_props}


def test_uint8_refused_for_dual_and_16_bit(tmp_path):
    from ifan_trt.export import export_onnx
    from tests.helpers.models import random_model

    with pytest.raises(IfanError, match="dual-pixel views too; uint8 I/O is for 8-bit single-frame models"):
        export_onnx(random_model(dual=True), tmp_path / "d.onnx", io="uint8")
    with pytest.raises(IfanError, match="channel order 'grb'"):
        export_onnx(random_model(), tmp_path / "o.onnx", io="uint8", channel_order="grb")
    with pytest.raises(IfanError, match="io 'uint16'"):
        export_onnx(random_model(), tmp_path / "o.onnx", io="uint16")
    assert not list(tmp_path.iterdir())


def test_uint8_wrap_refuses_a_uint8_graph(uint8_exports):
    from ifan_trt.export.uint8_io import wrap

    with pytest.raises(IfanError, match="already has uint8 I/O"):
        wrap(onnx.load(uint8_exports("onnx", "rgb")))


def test_fp16_of_a_uint8_model_is_the_fp16_float_model_wrapped(models, uint8_exports, tmp_path):
    """FP16 preparation converts the float network inside and wraps it again: the result takes
    frames and equals the FP16 float model's float path within one code value."""
    from ifan_trt.calib.prepare import make_fp16
    from ifan_trt.export import ort_session

    f16 = make_fp16(models("onnx"), tmp_path / "f.fp16.onnx", measure=False)
    u16 = make_fp16(uint8_exports("onnx", "bgr"), tmp_path / "u.fp16.onnx", measure=False)
    model = onnx.load(u16)
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta[META.precision] == "fp16" and meta[META.io] == "uint8" and meta[META.channel_order] == "bgr"
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.UINT8
    frames = np.random.default_rng(4).integers(0, 256, (1, 29, 43, 3), dtype=np.uint8)
    out = ort_session(str(u16)).run(["output"], {"input": frames})[0]
    diff = np.abs(out.astype(int) - float_path(ort_session(str(f16)), frames, "bgr").astype(int))
    assert diff.max() <= 1


def test_int8_of_a_uint8_model_is_the_int8_float_model_wrapped(models, uint8_exports, tmp_path):
    """INT8 calibration runs on the float network inside (same images, same scales)."""
    import cv2

    from ifan_trt.calib.prepare import make_int8
    from ifan_trt.export import ort_session

    images = tmp_path / "calib"
    images.mkdir()
    rng = np.random.default_rng(5)
    for i in range(2):
        cv2.imwrite(str(images / f"{i}.png"), rng.integers(0, 256, (40, 48, 3), dtype=np.uint8))
    f8 = make_int8(models("onnx"), tmp_path / "f.int8.onnx", images, count=2, size=(32, 32), progress=False)
    u8 = make_int8(uint8_exports("onnx", "rgb"), tmp_path / "u.int8.onnx", images, count=2, size=(32, 32),
                   progress=False)
    meta = {p.key: p.value for p in onnx.load(u8).metadata_props}
    assert meta[META.precision] == "int8" and meta[META.io] == "uint8"
    frames = rng.integers(0, 256, (1, 24, 40, 3), dtype=np.uint8)
    from ifan_trt.calib.emulate import cpu_model

    out = ort_session(cpu_model(onnx.load(u8))).run(["output"], {"input": frames})[0]
    ref = float_path(ort_session(cpu_model(onnx.load(f8))), frames, "rgb")
    assert np.abs(out.astype(int) - ref.astype(int)).max() <= 1


def test_cpu_int8_of_a_uint8_model_keeps_the_frames_io(models, uint8_exports, tmp_path):
    """`ifan precision --to int8-cpu` quantizes the float network inside and wraps it again."""
    import cv2

    from ifan_trt.calib.cpu_int8 import make_cpu_int8
    from ifan_trt.export import ort_session

    images = tmp_path / "calib"
    images.mkdir()
    rng = np.random.default_rng(7)
    for i in range(2):
        cv2.imwrite(str(images / f"{i}.png"), rng.integers(0, 256, (40, 48, 3), dtype=np.uint8))
    f8 = make_cpu_int8(models("onnx"), tmp_path / "f.int8-cpu.onnx", images, "minmax", 2, (32, 32), progress=False)
    u8 = make_cpu_int8(uint8_exports("onnx", "bgr"), tmp_path / "u.int8-cpu.onnx", images, "minmax", 2, (32, 32),
                       progress=False)
    model = onnx.load(u8)
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert any(n.op_type == "QLinearConv" or n.op_type == "DequantizeLinear" for n in model.graph.node)
    frames = rng.integers(0, 256, (1, 24, 40, 3), dtype=np.uint8)
    out = ort_session(str(u8)).run(["output"], {"input": frames})[0]
    ref = float_path(ort_session(str(f8)), frames, "bgr")
    assert np.abs(out.astype(int) - ref.astype(int)).max() <= 1
