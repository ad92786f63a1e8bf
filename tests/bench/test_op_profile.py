"""bench.op_profile: the op-type sums come from the last model run of an ONNX Runtime profile
only, and a real profile of a small graph has the events it reads."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.op_profile import op_times, row_table


def _node(op, ts, dur):
    return {"cat": "Node", "name": f"{op}_1_kernel_time", "ts": ts, "dur": dur, "args": {"op_name": op}}


def test_only_the_last_run_counts():
    events = [{"name": "model_run", "cat": "Session", "ts": 0, "dur": 100}, _node("Conv", 10, 50),
              {"name": "model_run", "cat": "Session", "ts": 200, "dur": 1_000_000},
              _node("Conv", 210, 600_000), _node("Add", 700_000, 100_000), _node("Conv", 900_000, 50_000)]
    by_op, seconds = op_times(events)
    assert by_op == pytest.approx({"Conv": 0.65, "Add": 0.1}) and seconds == pytest.approx(1.0)
    rows = row_table("c", "8x8", by_op, seconds, floor=0.5)
    assert rows[-2] == ["c", "all convolutions", "0.650", "65.0% (1.30x the floor)"]
    assert rows[-1] == ["c", "whole run", "1.000", "100% (2.00x the floor)"]
    with pytest.raises(ValueError, match="no model_run"):
        op_times([_node("Conv", 0, 1)])


def test_a_real_profile_is_read(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    graph = helper.make_graph([helper.make_node("Conv", ["input", "w"], ["c"], pads=[1, 1, 1, 1]),
                               helper.make_node("Relu", ["c"], ["output"])], "g",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 16, 16])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 4, 16, 16])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    options = ort.SessionOptions()
    options.enable_profiling, options.profile_file_prefix = True, str(tmp_path / "p")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # keep Conv and Relu apart
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    x = np.zeros((1, 3, 16, 16), np.float32)
    session.run(None, {"input": x})
    session.run(None, {"input": x})
    by_op, seconds = op_times(json.loads(open(session.end_profiling()).read()))
    assert set(by_op) == {"Conv", "Relu"} and 0 < sum(by_op.values()) <= seconds
