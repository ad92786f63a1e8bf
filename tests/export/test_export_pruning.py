"""Pruning the never-read kernel2 rows (official mode) changes nothing but F's size."""

import numpy as np
import onnx
import torch

from ifan_trt.contract import IAC_FILTERS, PLUGIN_OP
from ifan_trt.export.graph import read_metadata
from ifan_trt.export.onnx_export import build_export_model, filter_bytes
from ifan_trt.contract import compact_rows
from ifan_trt.model import IFANConfig

from tests.helpers.export import make_inputs, ort_run, torch_run

LOSSLESS = 1e-6  # pruning must be lossless: pruned vs unpruned


def test_pruned_pytorch_model_is_lossless(exports):
    model, _ = exports("official-plugin")
    pruned = build_export_model(model, prune=True)
    rows = compact_rows(2, 32, 3)
    assert pruned.iac.layout == "compact" and pruned.F[3].weight.shape[0] == len(rows) == 2 * 32 * 4
    assert torch.equal(pruned.F[3].weight, model.F[3].weight[rows])
    assert torch.equal(pruned.F[3].bias, model.F[3].bias[rows])
    feeds = make_inputs(model, 2, 24, 32)
    with torch.no_grad():
        got = pruned(torch.from_numpy(feeds["input"])).numpy()
    want, _ = torch_run(model, feeds)
    assert np.abs(got - want).max() <= LOSSLESS
    unpruned = build_export_model(model, prune=False)
    assert unpruned.iac.layout == "full" and unpruned.F[3].weight.shape[0] == 2 * 32 * 7


def test_pruned_graph_equals_unpruned_graph(exports):
    model, pruned = exports("official-plugin")
    _, full = exports("official-plugin-full")
    feeds = make_inputs(model, 1, 48, 40, seed=3)
    got, got_iac = ort_run(pruned.path, feeds)
    want, want_iac = ort_run(full.path, feeds)
    assert np.abs(got - want).max() <= LOSSLESS
    assert np.abs(got_iac - want_iac).max() <= LOSSLESS * max(1.0, np.abs(want_iac).max())
    assert read_metadata(pruned.path)["ifan.filter_layout"] == "compact"
    assert read_metadata(full.path)["ifan.filter_layout"] == "full"
    for result, layout, channels in ((pruned, 1, 2 * 32 * 4), (full, 0, 2 * 32 * 7)):
        graph = onnx.load(result.path).graph
        node = next(n for n in graph.node if n.op_type == PLUGIN_OP)
        assert onnx.helper.get_attribute_value(next(a for a in node.attribute if a.name == "layout")) == layout
        info = next(v for v in graph.value_info if v.name == IAC_FILTERS)
        assert info.type.tensor_type.shape.dim[1].dim_value == channels


def test_corrected_mode_is_never_pruned(exports):
    _, result = exports("corrected-plugin")  # exported with the default prune=True
    assert result.filter_layout == "full"
    assert result.filter_bytes_exported == result.filter_bytes_full


def test_filter_size_at_720p():
    """F of the released IFAN (N=17) at 1280x720, FP32: 15232 -> 8704 channels of 90x160."""
    config = IFANConfig()
    assert filter_bytes(config, "full") == 15232 * 90 * 160 * 4 == 877_363_200
    assert filter_bytes(config, "compact") == 8704 * 90 * 160 * 4 == 501_350_400


def test_metadata_of_a_16bit_model():
    """IFAN_16bit records its normalisation, so the runtime divides by 65535 without asking."""
    from ifan_trt.export.onnx_export import _metadata

    meta = _metadata(IFANConfig(in_bit=16), "onnx", "compact", "ab" * 32)
    assert meta["ifan.variant"] == "IFAN_16bit" and meta["ifan.in_bit"] == "16"
    assert meta["ifan.normalization"] == "rgb/65535" and meta["ifan.checkpoint_sha256"] == "ab" * 32
