"""Exported graphs run in ONNX Runtime (CPU) and match PyTorch: both IAC forms, both IAC
modes, IFAN and IFAN_dual, dynamic shapes (non-square, not multiples of 16, batch 2)."""

import numpy as np
import onnx
import pytest

from ifan_trt.contract import (IAC_FEATURES, IAC_FILTERS, IAC_NODE_PREFIX, IAC_OUTPUT,
                                      META_EXPORT_KEYS, PLUGIN_DOMAIN, PLUGIN_OP)
from ifan_trt.export.graph import read_metadata
from ifan_trt.export.verify import structural_checks

from tests.helpers.export import FP32_TOL, assert_close_iac, make_inputs, ort_run, torch_run

SHAPES = [(1, 40, 72), (2, 24, 56), (1, 8, 8), (1, 64, 24)]  # (batch, H, W)


@pytest.mark.parametrize("name", ["official-plugin", "official-onnx"])
@pytest.mark.parametrize("batch,h,w", SHAPES)
def test_matches_pytorch_at_dynamic_shapes(exports, name, batch, h, w):
    model, result = exports(name)
    feeds = make_inputs(model, batch, h, w, seed=h + w)
    want, want_iac = torch_run(model, feeds)
    got, got_iac = ort_run(result.path, feeds)
    assert got.shape == (batch, 3, h, w)
    assert np.abs(got - want).max() <= FP32_TOL
    assert_close_iac(got_iac, want_iac)
    # the test only means something if the network is not saturated
    assert 0.5 < np.mean((want > 0) & (want < 1))


@pytest.mark.parametrize("name", ["corrected-plugin", "dual-corrected-onnx"])
def test_corrected_mode_and_dual_match_pytorch(exports, name):
    model, result = exports(name)
    feeds = make_inputs(model, 2, 32, 40, seed=5)
    want, want_iac = torch_run(model, feeds)
    got, got_iac = ort_run(result.path, feeds)
    assert np.abs(got - want).max() <= FP32_TOL
    assert_close_iac(got_iac, want_iac)


def test_corrected_mode_differs_from_official(exports):
    """Guard against a translation that ignores the mode: official arithmetic on the corrected
    model's graph gives a visibly different IAC output."""
    model, result = exports("corrected-plugin")
    feeds = make_inputs(model, 1, 16, 24)
    _, got_iac = ort_run(result.path, feeds)
    model.iac.mode = "official"
    try:
        _, official_iac = torch_run(model, feeds)
    finally:
        model.iac.mode = "corrected"
    assert np.abs(got_iac - official_iac).max() > 100 * FP32_TOL


def test_plugin_node_follows_the_contract(exports):
    model, result = exports("official-plugin")
    graph = onnx.load(result.path).graph
    nodes = [n for n in graph.node if n.op_type == PLUGIN_OP]
    assert len(nodes) == 1
    node = nodes[0]
    assert node.domain == PLUGIN_DOMAIN
    assert list(node.input) == [IAC_FEATURES, IAC_FILTERS] and list(node.output) == [IAC_OUTPUT]
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    assert attrs == {"plugin_version": b"1", "plugin_namespace": b"", "N": 2, "k": 3, "mode": 0,
                     "layout": 1, "slope": pytest.approx(0.1)}
    types = {a.name: a.type for a in node.attribute}
    assert types["N"] == types["k"] == types["mode"] == types["layout"] == onnx.AttributeProto.INT
    assert types["slope"] == onnx.AttributeProto.FLOAT
    assert types["plugin_version"] == types["plugin_namespace"] == onnx.AttributeProto.STRING
    corrected = onnx.load(exports("corrected-plugin")[1].path).graph
    attrs = {a.name: onnx.helper.get_attribute_value(a) for n in corrected.node if n.op_type == PLUGIN_OP
             for a in n.attribute}
    assert (attrs["N"], attrs["mode"], attrs["layout"]) == (3, 1, 0)


def _outside_names(graph) -> set[str]:
    """Every tensor name produced or consumed by nodes outside the IAC."""
    names = set()
    for node in graph.node:
        if node.op_type == PLUGIN_OP or node.name.startswith(IAC_NODE_PREFIX):
            continue
        names.update(node.input)
        names.update(node.output)
    return names


def test_both_forms_share_tensor_names_outside_the_iac(exports):
    plugin = onnx.load(exports("official-plugin")[1].path).graph
    standard = onnx.load(exports("official-onnx")[1].path).graph
    assert _outside_names(plugin) == _outside_names(standard)
    assert {IAC_FEATURES, IAC_FILTERS, IAC_OUTPUT} <= _outside_names(standard)
    # the standard form is standard ops only, all named under the IAC prefix
    iac_nodes = [n for n in standard.node if n.name.startswith(IAC_NODE_PREFIX)]
    assert {n.op_type for n in iac_nodes} == {"Pad", "Slice", "Mul", "Add", "LeakyRelu"}
    assert all(n.domain == "" for n in standard.node)
    pads = [n for n in iac_nodes if n.op_type == "Pad"]
    assert len(pads) == 2 * 2  # two passes per iteration, N=2
    assert all(onnx.helper.get_attribute_value(a) == b"edge" for n in pads for a in n.attribute if a.name == "mode")


@pytest.mark.parametrize("name", ["official-plugin", "official-onnx", "dual-corrected-onnx"])
def test_io_checker_and_metadata(exports, name):
    model, result = exports(name)
    proto = onnx.load(result.path)
    structural_checks(proto, result.path)  # onnx.checker full + strict shape inference; raises
    assert proto.opset_import[0].version == 19
    inputs = [i.name for i in proto.graph.input]
    assert inputs == (["input", "left", "right"] if model.config.dual else ["input"])
    assert [o.name for o in proto.graph.output] == ["output"]
    for value in [*proto.graph.input, *proto.graph.output]:
        dims = [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]
        assert dims == ["batch", 3, "height", "width"]
    meta = read_metadata(result.path)
    assert set(meta) == set(META_EXPORT_KEYS)
    cfg = model.config
    assert meta == {
        "ifan.variant": cfg.variant, "ifan.n_iters": "2", "ifan.dual": "true" if cfg.dual else "false",
        "ifan.in_bit": "8", "ifan.iac_mode": cfg.iac_mode, "ifan.iac_form": result.iac_form,
        "ifan.iac_split": "false",
        "ifan.filter_layout": "compact" if cfg.iac_mode == "official" else "full", "ifan.normalization": "rgb/255", "ifan.size_multiple": "8",
        "ifan.tool_version": meta["ifan.tool_version"], "ifan.checkpoint_sha256": "unknown",
        "ifan.precision": "fp32"}
    assert meta["ifan.tool_version"] == __import__("ifan_trt").__version__
