"""A uint8 model as a TensorRT engine, on the TensorRT and CUDA stand-ins: UINT8 network I/O (the
frame in and out, [B,H,W,3]), built by `ifan build` with the usual --shapes, run by the TensorRT
executor, equal to the float model's float path within one code value. The stand-in refuses what
TensorRT 10.3 and 11.x refuse for UINT8 I/O (NvInferRuntimeBase.h, DataType::kUINT8): a UINT8
network input may only be cast to FLOAT or HALF, a UINT8 output only cast from them."""

from __future__ import annotations

import numpy as np
import pytest

from ifan_trt.errors import IfanError
from tests.helpers import fake_tensorrt
from tests.helpers.fake_cuda import FakeGpu

SHAPES = ("--shapes", "min=1x3x16x16,opt=1x3x32x48,max=2x3x64x96")


@pytest.fixture(scope="module")
def exports(models, tmp_path_factory):
    """The small model's uint8 export (BGR), made before the stand-in is in sys.modules."""
    from ifan_trt.export import export_onnx

    folder = tmp_path_factory.mktemp("uint8_engine")
    return {"uint8": export_onnx(models("checkpoint"), folder / "u8.onnx", iac_form="plugin", io="uint8",
                                 channel_order="bgr").path,
            "float": models("plugin"), "folder": folder}


@pytest.fixture(scope="module")
def standin(exports):
    with pytest.MonkeyPatch.context() as mp:
        trt = fake_tensorrt.install(mp, "10.3.0.26", FakeGpu())
        mp.setenv("IFAN_TRT_PLUGIN", str(fake_tensorrt.write_plugin_library(exports["folder"], 10)))
        yield trt


def test_uint8_engine_takes_frames_and_equals_the_float_path(standin, exports):
    from ifan_trt.imageio import Image
    from ifan_trt.runtime.executors.ort_executor import OrtExecutor
    from ifan_trt.runtime.images.pipeline import deblur_bgr_frames, deblur_image
    from ifan_trt.runtime.tensorrt.executor import TrtExecutor

    engine = fake_tensorrt.build(exports["uint8"], exports["folder"] / "u8.plan", "--iac-split", "off", *SHAPES)
    frames = list(np.random.default_rng(0).integers(0, 256, (2, 37, 53, 3), dtype=np.uint8))
    with TrtExecutor(engine) as ex, OrtExecutor(exports["float"], device="cpu") as ort:
        assert (ex.info.io, ex.info.channel_order) == ("uint8", "bgr")
        assert {t.name: t.dtype for t in ex.tensors} == {"input": np.uint8, "output": np.uint8}
        assert ex.limits.min_hw == (16, 16) and ex.limits.max_hw == (64, 96) and ex.max_batch(37, 53) == 2
        assert "uint8-io" in ex.describe()
        out = deblur_bgr_frames(ex, frames)
        ref = deblur_bgr_frames(ort, frames)
        assert max(np.abs(a.astype(int) - b.astype(int)).max() for a, b in zip(out, ref)) <= 1
        with pytest.raises(IfanError, match=r"^a 16-bit image: this engine has uint8 I/O"):
            deblur_image(ex, Image(np.zeros((16, 16, 3), np.float32), np.dtype(np.uint16), False))
    assert standin._gpu.live() == {}


def _frames_graph(path, cast_first: bool):
    """input [1,8,8,3] uint8 -> (Cast, Transpose) or (Transpose, Cast) -> x 1 -> Transpose -> Cast -> output uint8."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    first = [helper.make_node("Cast", ["input"], ["a"], to=TensorProto.FLOAT, name="cast_in"),
             helper.make_node("Transpose", ["a"], ["b"], perm=[0, 3, 1, 2], name="to_nchw")]
    if not cast_first:
        first = [helper.make_node("Transpose", ["input"], ["a"], perm=[0, 3, 1, 2], name="to_nchw"),
                 helper.make_node("Cast", ["a"], ["b"], to=TensorProto.FLOAT, name="cast_in")]
    nodes = first + [helper.make_node("Mul", ["b", "one"], ["c"], name="net"),
                     helper.make_node("Transpose", ["c"], ["d"], perm=[0, 2, 3, 1], name="to_nhwc"),
                     helper.make_node("Cast", ["d"], ["output"], to=TensorProto.UINT8, name="cast_out")]
    graph = helper.make_graph(nodes, "frames", [helper.make_tensor_value_info("input", TensorProto.UINT8, [1, 8, 8, 3])],
                              [helper.make_tensor_value_info("output", TensorProto.UINT8, [1, 8, 8, 3])],
                              [numpy_helper.from_array(np.array(1.0, np.float32), "one")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)]), path)
    return path


@pytest.mark.parametrize("cast_first", [True, False])
def test_uint8_input_must_go_into_a_cast(standin, tmp_path, cast_first, capfd):
    """TensorRT converts a UINT8 network input only by a cast to FLOAT or HALF: a graph that casts
    first builds; one that transposes the uint8 tensor first is refused, as TensorRT refuses it."""
    from ifan_trt.runtime.model_files.optimization_profiles import frame_layout, parse_profiles
    from ifan_trt.runtime.tensorrt import build as engine_build

    path = _frames_graph(tmp_path / "frames.onnx", cast_first)
    profiles = frame_layout(parse_profiles(["1x3x8x8"]))
    build = lambda: engine_build.build_plan(standin, path, profiles, ["input"], 1 << 30, None, False, None, None)  # noqa: E731
    if cast_first:
        assert build()
    else:
        with pytest.raises(IfanError, match="frames.onnx: TensorRT build failed"):
            build()
        out = capfd.readouterr()
        assert "UINT8" in out.out + out.err
