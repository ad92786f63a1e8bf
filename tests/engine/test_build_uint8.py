"""`ifan build` of a uint8 model: TensorRT's UINT8 network I/O takes the frame ([B,H,W,3]), so
the profiles given as NxCxHxW reach the builder as the frame's NxHxWxC, precision preparation
keeps the uint8 I/O, and the sidecar tells the runtime the engine's I/O."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

onnx = pytest.importorskip("onnx")

from ifan_trt.commands import build as build_cmd  # noqa: E402
from ifan_trt.errors import IfanError  # noqa: E402
from tests.engine.test_build_engine import _args, calib_pics, stubbed_build  # noqa: E402,F401  fixtures
from tests.helpers.build import tiny_graph  # noqa: E402


def uint8_graph(path: Path, static=None) -> Path:
    from ifan_trt.export.uint8_io import wrap

    model = wrap(onnx.load(tiny_graph(path.with_name("float_" + path.name), static=static)), "bgr")
    onnx.save(model, path)
    return path


def test_profiles_reach_the_builder_in_the_frame_layout(tmp_path, stubbed_build):
    onnx_path = uint8_graph(tmp_path / "tiny_u8.onnx")
    out = tmp_path / "u8.plan"
    assert build_cmd.run(_args(onnx_path, out, "--shapes", "min=1x3x64x64,opt=1x3x720x1280,max=2x3x1080x1920")) == 0
    (profile,) = stubbed_build["profiles"]
    assert (profile.min, profile.opt, profile.max) == ((1, 64, 64, 3), (1, 720, 1280, 3), (2, 1080, 1920, 3))
    built = onnx.load(stubbed_build["onnx"])
    assert built.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.UINT8
    side = json.loads(Path(f"{out}.json").read_text())
    assert side["profiles"][0]["input"]["max"] == [2, 1080, 1920, 3]
    from ifan_trt.runtime.model_files.metadata import info_from_sidecar

    info = info_from_sidecar(out)
    assert (info.io, info.channel_order) == ("uint8", "bgr")


def test_static_uint8_graph_checks_the_frame_shape(tmp_path, stubbed_build):
    onnx_path = uint8_graph(tmp_path / "static_u8.onnx", static=(64, 96))
    with pytest.raises(IfanError, match="input has a fixed dimension 1 of 64"):
        build_cmd.run(_args(onnx_path, tmp_path / "s.plan"))
    assert build_cmd.run(_args(onnx_path, tmp_path / "s.plan", "--shapes", "64x96")) == 0
    assert stubbed_build["profiles"][0].max == (1, 64, 96, 3)


def test_fp16_engine_of_a_uint8_model_keeps_the_uint8_io(tmp_path, stubbed_build, calib_pics):
    onnx_path = uint8_graph(tmp_path / "tiny_u8.onnx")
    assert build_cmd.run(_args(onnx_path, tmp_path / "h.plan", "--precision", "fp16",
                               "--calib-images", str(calib_pics))) == 0
    built = onnx.load(stubbed_build["onnx"])
    meta = {p.key: p.value for p in built.metadata_props}
    assert meta["ifan.precision"] == "fp16" and meta["ifan.io"] == "uint8"
    assert built.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert built.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in built.graph.initializer)
