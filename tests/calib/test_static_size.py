"""The precision steps on an export with fixed H and W (`ifan export --shape HxW`): ONNX Runtime
refuses any other input size, so measurement and calibration run at the graph's size, and a
--calib-size that contradicts it is a one-line error naming the option."""

from __future__ import annotations

import json

import onnx
import pytest
from onnx import TensorProto, helper

from ifan_trt.calib import prepare
from ifan_trt.calib.images import graph_size
from ifan_trt.errors import IfanError
from ifan_trt.export import graph as graphs

STATIC_HW = (32, 40)  # not the 256x256 default, and not the images' own 48x40


@pytest.fixture(scope="session")
def static_export(models, tmp_path_factory):
    from ifan_trt.export import export_onnx

    out = tmp_path_factory.mktemp("static") / "static.onnx"
    return export_onnx(models("checkpoint"), out, iac_form="plugin", shape=STATIC_HW, batch=1).path


def _graph(dims):
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, dims)
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, dims)
    return helper.make_model(helper.make_graph([helper.make_node("Identity", ["input"], ["output"])], "g", [x], [y]))


def test_graph_size_takes_fixed_axes_and_refuses_a_contradiction():
    dynamic = _graph(["batch", 3, "height", "width"])
    assert graph_size(dynamic, None, (256, 256)) == (256, 256)
    assert graph_size(dynamic, (64, 96), (256, 256)) == (64, 96)
    fixed = _graph([1, 3, 32, 40])
    assert graph_size(fixed, None, (256, 256)) == (32, 40)
    assert graph_size(fixed, (32, 40), (256, 256)) == (32, 40)
    half = _graph(["batch", 3, 72, "width"])  # H fixed, W dynamic
    assert graph_size(half, None, (256, 256)) == (72, 256)
    assert graph_size(half, (72, 64), (256, 256)) == (72, 64)
    with pytest.raises(IfanError) as info:
        graph_size(fixed, (256, 256), (256, 256), "--calib-size")
    assert str(info.value) == ("--calib-size 256x256: the graph's input is fixed at 32x40 (HxW); "
                               "leave --calib-size out or pass 32x40")
    with pytest.raises(IfanError, match=r"fixed at 72x\?"):
        graph_size(half, (64, 64), (256, 256))


def test_cli_fp16_of_a_static_export_measures_at_its_size(static_export, calib_images, tmp_path, capsys):
    from ifan_trt.cli import main

    out = tmp_path / "s.fp16.onnx"
    code = main(["precision", str(static_export), "--to", "fp16", "-o", str(out), "--calib-images", str(calib_images),
                 "--calib-count", "2"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert f"at {STATIC_HW[0]}x{STATIC_HW[1]}" in err
    assert graphs.graph_precision(onnx.load(out)) == "fp16"


def test_cli_refuses_a_calib_size_the_static_export_cannot_take(static_export, calib_images, tmp_path, capsys):
    from ifan_trt.cli import main

    for command in (["precision", str(static_export), "--to", "fp16"], ["precision", str(static_export), "--to", "int8"],
                    ["precision", str(static_export), "--to", "int8-cpu"]):
        out = tmp_path / "refused.onnx"
        code = main([*command, "-o", str(out), "--calib-images", str(calib_images), "--calib-size", "64x64"])
        lines = capsys.readouterr().err.strip().splitlines()
        assert code == 1
        assert lines[-1] == (f"ifan {command[0]}: error: --calib-size 64x64: the graph's input is fixed at 32x40 "
                             "(HxW); leave --calib-size out or pass 32x40"), lines
        assert not out.exists()


def test_cli_int8_of_a_static_export_at_its_size(static_export, calib_images, tmp_path, capsys):
    from ifan_trt.cli import main

    out = tmp_path / "s.int8.onnx"
    code = main(["precision", str(static_export), "--to", "int8", "-o", str(out), "--calib-images", str(calib_images),
                 "--calib-count", "2"])
    assert code == 0, capsys.readouterr().err
    cache = json.loads(out.with_name("s.int8.calib.json").read_text())
    assert [entry["size"] for entry in cache["entries"].values()] == [list(STATIC_HW)]
    assert graphs.has_qdq(onnx.load(out))


@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_build_preparation_of_a_static_export(static_export, calib_images, tmp_path, precision):
    """What `ifan build --precision fp16|int8` prepares before TensorRT sees the graph."""
    path, got, _ = prepare.graph_for(static_export, tmp_path / "s.engine", precision, calib_images,
                                     calib_count=2, progress=False)
    assert got == precision
    model = onnx.load(path)
    assert graphs.graph_precision(model) == precision
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 3, *STATIC_HW]
