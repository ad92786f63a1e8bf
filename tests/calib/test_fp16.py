"""FP16 preparation: per-node measurement, the kept-FP32 decision, the converted graph's types."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from ifan_trt.export import graph as graphs
from ifan_trt.calib import fp16
from ifan_trt.calib.emulate import cpu_model
from ifan_trt.errors import IfanError

from tests.helpers.calib import feeds_of, run_graph  # noqa: E402


def _psnr(a, b):
    return 10 * np.log10(1.0 / np.mean((a.astype(np.float64) - b) ** 2))


def test_measure_covers_every_float_node_with_fp16_sized_errors(small_exports, calib_images):
    model = onnx.load(small_exports["plugin"])
    stats = fp16.measure(model, feeds_of(calib_images), progress=False)
    by_op = {}
    for s in stats:
        by_op.setdefault(s.op_type, []).append(s)
    # every conv and the plugin node are measured
    assert len(by_op["Conv"]) == sum(n.op_type == "Conv" for n in model.graph.node)
    assert len(by_op["IFAN_IAC"]) == 1
    for s in by_op["Conv"] + by_op["ConvTranspose"] + by_op["IFAN_IAC"]:
        # FP16 has an 11-bit significand: rounding alone is ~3e-4 relative; nothing here cancels
        assert 1e-5 < s.rel_error < 3e-3, (s.name, s.rel_error)
        assert 0 < s.max_abs < 100
        assert not s.keep_fp32
    rows = fp16.report_rows(stats, limit=10)
    assert len(rows) == 10 and rows[0][1] in by_op


def test_report_rows_list_the_iac_once():
    stats = [fp16.NodeStats("iac", "IFAN_IAC", "y", rel_error=5e-3)] + \
        [fp16.NodeStats(f"conv{i}", "Conv", f"c{i}", rel_error=1e-3 / (i + 1)) for i in range(5)] + \
        [fp16.NodeStats("kept", "Add", "k", rel_error=1e-4, keep_fp32=True)]
    assert [r[0] for r in fp16.report_rows(stats, limit=4)] == ["kept", "iac", "conv0", "conv1"]
    assert [r[0] for r in fp16.report_rows(stats, limit=None)][:3] == ["kept", "iac", "conv0"]


def _overflow_graph():
    """input * 5e4 -> Add itself (1e5 > FP16 max) -> * 1e-4 -> Relu: an FP16 graph gives inf."""
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 8, 8])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 8, 8])
    inits = [numpy_helper.from_array(np.array(5e4, np.float32), "big"),
             numpy_helper.from_array(np.array(1e-4, np.float32), "small")]
    nodes = [helper.make_node("Mul", ["input", "big"], ["a"], name="scale_up"),
             helper.make_node("Add", ["a", "a"], ["b"], name="double"),
             helper.make_node("Mul", ["b", "small"], ["c"], name="scale_down"),
             helper.make_node("Relu", ["c"], ["output"], name="relu")]
    g = helper.make_graph(nodes, "overflow", [x], [y], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 19)])


def test_overflowing_nodes_and_their_readers_stay_fp32_end_to_end():
    model = _overflow_graph()
    feeds = [{"input": np.full((1, 3, 8, 8), 1.0, np.float32)}]
    stats = {s.name: s for s in fp16.measure(model, feeds, progress=False)}
    assert stats["double"].max_abs == pytest.approx(1e5)
    assert stats["double"].rel_error == float("inf")  # FP16 alone: inf
    assert stats["scale_up"].keep_fp32  # 5e4: beyond half the FP16 range, no headroom
    assert stats["double"].keep_fp32 and "FP16 max" in " ".join(stats["double"].reasons)
    assert stats["scale_down"].keep_fp32 and "reads b" in " ".join(stats["scale_down"].reasons)
    assert not stats["relu"].keep_fp32
    kept = [s.name for s in stats.values() if s.keep_fp32]
    # without the measurement the FP16 graph overflows (seen on the CPU through the emulation;
    # ONNX Runtime alone keeps FP32 between its FP16-less kernels and hides it)
    assert not np.all(np.isfinite(run_graph(cpu_model(fp16.convert(model)), feeds[0])))
    out = fp16.convert(model, keep_nodes=kept)
    types = graphs.value_types(out)
    nodes = {n.name: n for n in out.graph.node}
    assert types[nodes["scale_down"].input[0]] == TensorProto.FLOAT  # 1e5 travels in FP32
    assert types[nodes["relu"].input[0]] == TensorProto.FLOAT16
    assert {t.name: t.data_type for t in out.graph.initializer}["big"] == TensorProto.FLOAT
    assert np.allclose(run_graph(cpu_model(out), feeds[0]), 10.0, rtol=1e-3)


def test_converted_graph_has_fp32_io_fp16_inside_and_kept_ops_fp32(small_exports, calib_images):
    model = onnx.load(small_exports["plugin"])
    out = fp16.convert(model, keep_ops=["ConvTranspose"])
    originals = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    assert [i.type.tensor_type.elem_type for i in out.graph.input] == [TensorProto.FLOAT]
    assert [o.type.tensor_type.elem_type for o in out.graph.output] == [TensorProto.FLOAT]
    types = graphs.value_types(out)
    inits = {t.name: t.data_type for t in out.graph.initializer}
    for node in out.graph.node:
        if node.op_type == "ConvTranspose":
            assert types[node.output[0]] == TensorProto.FLOAT
            assert inits[node.input[1]] == TensorProto.FLOAT  # the FP32 weights, not FP16-rounded ones
            weight = numpy_helper.to_array(next(t for t in out.graph.initializer if t.name == node.input[1]))
            assert np.array_equal(weight, originals[node.input[1].removesuffix("/fp32")])
        elif node.op_type == "Conv":
            assert types[node.output[0]] == TensorProto.FLOAT16
            assert inits[node.input[1]] == TensorProto.FLOAT16
        elif node.op_type == "IFAN_IAC":
            assert [types[i] for i in node.input] == [TensorProto.FLOAT16] * 2
    assert graphs.metadata(out)["ifan.precision"] == "fp16"
    assert graphs.metadata(out)["ifan.variant"] == graphs.metadata(model)["ifan.variant"]
    # numbers: FP16 storage of a random ch=8 model costs little (measured ~70 dB)
    for feeds in feeds_of(calib_images):
        assert _psnr(run_graph(cpu_model(out), feeds), run_graph(model, feeds)) > 55


def test_keep_list_accepts_op_types_and_node_names_only(small_exports):
    model = onnx.load(small_exports["plugin"])
    conv = next(n.name for n in model.graph.node if n.op_type == "Conv")
    assert fp16.resolve_keep(model, ["IFAN_IAC", conv]) == (["IFAN_IAC"], [conv])
    with pytest.raises(IfanError, match="--keep-fp32 Softmax: neither an op type nor a node name"):
        fp16.resolve_keep(model, ["Softmax"])


def test_cli_fp16_writes_graph_and_keeps_user_choice(small_exports, calib_images, tmp_path, capsys):
    from ifan_trt.cli import main

    out = tmp_path / "m.fp16.onnx"
    code = main(["precision", str(small_exports["onnx"]), "--to", "fp16", "-o", str(out), "--calib-images",
                 str(calib_images), "--calib-size", "32x32", "--calib-count", "2", "--keep-fp32", "ConvTranspose"])
    assert code == 0
    err = capsys.readouterr().err
    assert "float nodes measured" in err and "FP16 graph vs FP32" in err
    g = onnx.load(out)
    types = graphs.value_types(g)
    assert all(types[n.output[0]] == TensorProto.FLOAT for n in g.graph.node if n.op_type == "ConvTranspose")
    assert graphs.metadata(g)["ifan.fp32_nodes"].startswith("ConvTranspose")
    # an FP16 graph is not an input for another conversion
    assert main(["precision", str(out), "--to", "fp16", "-o", str(tmp_path / "again.onnx"), "--no-measure"]) == 1
    assert "is a fp16 graph; start from the FP32 export" in capsys.readouterr().err
