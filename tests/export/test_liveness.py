"""export/liveness.py on tiny hand-made graphs whose peak is known by hand."""

import json

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from ifan_trt.contract import PLUGIN_DOMAIN, PLUGIN_OP
from ifan_trt.export.liveness import analyse, format_peak, input_dims, peak_report, tensor_types

F32, F16 = TensorProto.FLOAT, TensorProto.FLOAT16


def graph(nodes, inputs=("x",), outputs=("y",), initializers=(), elem=F32, dims=("B", 2, "H", "W")):
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(n, elem, list(dims)) for n in inputs],
                          [helper.make_tensor_value_info(n, 0, None) for n in outputs], list(initializers))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 19)])


def live_names(report):
    return sorted(t["name"] for t in report["largest_live"])


# x: 1x2x2x2 FP32 = 32 bytes; every single-input op below keeps that size unless noted

def test_chain_peak_is_the_widest_producer_and_consumer_pair():
    model = graph([helper.make_node("Relu", ["x"], ["a"], name="n0"),
                   helper.make_node("Concat", ["a", "a"], ["b"], axis=1, name="n1"),  # 64 bytes
                   helper.make_node("Relu", ["b"], ["y"], name="n2")])
    per_node, tensors = analyse(model, (2, 2))
    assert per_node.tolist() == [32 + 32, 32 + 64, 64 + 64]  # x dies after n0, a after n1
    report = peak_report(model, (2, 2))
    assert report["peak_bytes"] == 128 and report["peak_node"] == {"index": 2, "name": "n2", "op_type": "Relu"}
    assert live_names(report) == ["b", "y"] and report["peak_by_dtype"] == {"float32": 128}
    assert tensors["b"] == ((1, 4, 2, 2), "float32", 64, (1, 2))
    assert json.loads(json.dumps(report)) == report  # what `ifan inspect` writes as JSON


def test_fork_join_keeps_the_fork_input_alive_until_its_last_reader():
    model = graph([helper.make_node("Relu", ["x"], ["a"], name="left"),
                   helper.make_node("Sigmoid", ["x"], ["b"], name="right"),
                   helper.make_node("Add", ["a", "b"], ["y"], name="join")])
    per_node, _ = analyse(model, (2, 2))
    assert per_node.tolist() == [64, 96, 96]
    report = peak_report(model, (2, 2))
    assert report["peak_node"]["name"] == "right" and live_names(report) == ["a", "b", "x"]


def test_graph_outputs_live_to_the_end_and_unread_tensors_only_at_their_producer():
    model = graph([helper.make_node("Relu", ["x"], ["y"], name="n0"),
                   helper.make_node("Split", ["x"], ["s0", "s1"], axis=1, num_outputs=2, name="n1"),  # 16 + 16
                   helper.make_node("Neg", ["s0"], ["z"], name="n2")], outputs=("y", "z"))
    per_node, tensors = analyse(model, (2, 2))
    # n0: x y; n1: x y s0 s1; n2: y s0 z (s1 nobody reads: only at n1)
    assert per_node.tolist() == [64, 96, 32 + 16 + 16]
    assert tensors["s1"][3] == (1, 1) and tensors["y"][3] == (0, 2)


def test_dtypes_counted_apart_and_fp16_assumed_for_float_activations():
    model = graph([helper.make_node("Cast", ["x"], ["h"], to=F16, name="to16"),
                   helper.make_node("Relu", ["h"], ["r"], name="relu"),
                   helper.make_node("Cast", ["r"], ["y"], to=F32, name="to32")])
    report = peak_report(model, (2, 2))
    assert report["peak_bytes"] == 48 and report["peak_node"]["name"] == "to16"  # ties: the first node
    assert report["peak_by_dtype"] == {"float32": 32, "float16": 16}
    as_half = peak_report(model, (2, 2), activation_dtype="float16")
    assert as_half["peak_bytes"] == 32 and as_half["peak_by_dtype"] == {"float16": 32}
    assert as_half["activation_dtype"] == "float16"


def test_initializers_are_reported_apart_from_activations():
    weight = numpy_helper.from_array(np.ones((1, 2, 2, 2), np.float32), "w")
    half = numpy_helper.from_array(np.ones((100,), np.float16), "h")
    model = graph([helper.make_node("Add", ["x", "w"], ["y"], name="add")], initializers=[weight, half])
    report = peak_report(model, (2, 2))
    assert report["peak_bytes"] == 64 and live_names(report) == ["x", "y"]
    assert report["initializer_bytes"] == {"float32": 32, "float16": 200}


def test_batch_and_shape_scale_the_count():
    model = graph([helper.make_node("Relu", ["x"], ["y"])])
    assert peak_report(model, (4, 8), batch=3)["peak_bytes"] == 2 * 3 * 2 * 4 * 8 * 4
    assert peak_report(model, (4, 8), batch=3)["input_shape"] == [3, 2, 4, 8]


def test_plugin_node_gets_its_features_shape():
    iac = helper.make_node(PLUGIN_OP, ["x", "f"], ["i"], domain=PLUGIN_DOMAIN, N=1, k=3, mode=0, layout=1,
                           slope=0.1, name="iac")
    model = graph([helper.make_node("Concat", ["x", "x", "x", "x"], ["f"], axis=1, name="filters"),  # 8 ch
                   iac, helper.make_node("Relu", ["i"], ["y"], name="relu")])
    model.opset_import.append(helper.make_opsetid(PLUGIN_DOMAIN, 1))
    types = tensor_types(model, {"x": [1, 2, 4, 4]})
    assert types["i"] == ((1, 2, 4, 4), F32) and types["f"] == ((1, 8, 4, 4), F32)
    report = peak_report(model, (4, 4))
    assert report["peak_bytes"] == (2 + 8 + 2) * 16 * 4 and report["peak_node"]["name"] == "iac"
    assert format_peak(report).startswith("peak live activations at 1x2x4x4: 0.0 MB at node iac (IFAN_IAC)")


def test_fixed_dims_must_match_the_shape_asked_for():
    model = graph([helper.make_node("Relu", ["x"], ["y"])], dims=(1, 2, 8, 8))
    assert input_dims(model, (8, 8)) == {"x": [1, 2, 8, 8]}
    with pytest.raises(ValueError, match="x: dim 2 is fixed at 8, cannot analyse it at 16"):
        input_dims(model, (16, 16))
    with pytest.raises(ValueError, match="x: dim 0 is fixed at 1, cannot analyse it at 2"):
        input_dims(model, (8, 8), batch=2)
