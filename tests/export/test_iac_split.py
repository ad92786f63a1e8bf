"""The split IAC form (one one-iteration IAC node per iteration, each fed by its own slice of the
filter conv): equal to the one-node form in ONNX Runtime, F never written, a lower peak of live
activations where F dominated it, and `ifan export --iac-split on`."""

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from ifan_trt.cli import main
from ifan_trt.export import export_onnx
from ifan_trt.contract import IAC_FEATURES, IAC_FILTERS, IAC_OUTPUT, META, PLUGIN_OP
from ifan_trt.export.graph import read_metadata
from ifan_trt.export.iac_split import iteration_rows, split_plugin_graph
from ifan_trt.export.liveness import peak_report, split_gain, tensor_types
from ifan_trt.contract import filter_channels

from tests.helpers.export import assert_same_split as assert_same
from tests.helpers.export import make_inputs, ort_run, small_model


@pytest.mark.parametrize("split, one", [("official-plugin-split", "official-plugin"),
                                        ("corrected-plugin-split", "corrected-plugin"),
                                        ("official-onnx-split", "official-onnx"),
                                        ("official-onnx-split", "official-plugin")])
def test_split_equals_one_node_form_in_ort(exports, split, one):
    model, split_result = exports(split)
    _, one_result = exports(one)
    feeds = make_inputs(model, 2, 40, 56, seed=3)
    out_split, iac_split = ort_run(split_result.path, feeds)
    out_one, iac_one = ort_run(one_result.path, feeds)
    assert np.abs(iac_one).max() > 0.1  # the IAC output is not trivially zero
    assert_same(iac_split, iac_one)
    assert_same(out_split, out_one)


def _producer(graph, name):
    return next(n for n in graph.node if name in n.output)


@pytest.mark.parametrize("name, layout", [("official-plugin-split", "compact"), ("corrected-plugin-split", "full")])
def test_split_nodes_read_their_rows_of_the_filter_conv(exports, name, layout):
    model, result = exports(name)
    _, one = exports(name.removesuffix("-split"))
    cfg = model.config
    c, k = cfg.feat_channels, cfg.filter_size
    graph, one_graph = onnx.load(result.path).graph, onnx.load(one.path).graph
    inits = {t.name: numpy_helper.to_array(t) for t in [*graph.initializer, *one_graph.initializer]}
    big = _producer(one_graph, IAC_FILTERS)
    plugins = [n for n in graph.node if n.op_type == PLUGIN_OP]
    assert len(plugins) == cfg.n_iters
    assert plugins[0].input[0] == IAC_FEATURES and plugins[-1].output[0] == IAC_OUTPUT
    for i, node in enumerate(plugins):
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        assert attrs["N"] == 1 and attrs["layout"] == {"full": 0, "compact": 1}[layout]
        conv = _producer(graph, node.input[1])
        rows = iteration_rows(cfg.n_iters, c, k, layout, i)
        assert len(rows) == filter_channels(1, c, k, layout)
        np.testing.assert_array_equal(inits[conv.input[1]], inits[big.input[1]][rows])
        np.testing.assert_array_equal(inits[conv.input[2]], inits[big.input[2]][rows])
        if i:
            assert node.input[0] == plugins[i - 1].output[0]
    assert read_metadata(result.path)[META.iac_split] == "true"
    assert read_metadata(one.path)[META.iac_split] == "false"


def test_split_graph_never_holds_f(exports):
    model, result = exports("official-onnx-split")
    cfg = model.config
    full = filter_channels(cfg.n_iters, cfg.feat_channels, cfg.filter_size, "compact")
    types = tensor_types(onnx.load(result.path), {"input": [1, 3, 32, 48]})
    assert IAC_FILTERS not in types and IAC_FEATURES in types and IAC_OUTPUT in types
    widest = max(shape[1] for shape, _ in types.values() if len(shape) == 4)
    assert widest == filter_channels(1, cfg.feat_channels, cfg.filter_size, "compact") < full


def test_onnx_rewrite_equals_the_split_export(exports):
    model, one = exports("official-plugin")
    _, split = exports("official-plugin-split")
    rewritten = split_plugin_graph(onnx.load(one.path))
    onnx.checker.check_model(rewritten)
    assert read_metadata(rewritten)[META.iac_split] == "true"
    feeds = make_inputs(model, 1, 32, 48, seed=5)
    path = split.path.with_name("rewritten.onnx")
    onnx.save(rewritten, path)
    assert_same(ort_run(path, feeds)[0], ort_run(split.path, feeds)[0])
    assert peak_report(rewritten, (32, 48))["peak_bytes"] == peak_report(split.path, (32, 48))["peak_bytes"]
    with pytest.raises(ValueError, match="expected one IFAN_IAC node, found 2"):
        split_plugin_graph(onnx.load(split.path))


@pytest.fixture(scope="module")
def wide_filters(tmp_path_factory):
    """N=12 at ch=8: F (1536 channels at 1/8 resolution) outweighs the full-resolution stage."""
    folder = tmp_path_factory.mktemp("wide")
    model = small_model(n_iters=12, seed=6)
    one = export_onnx(model, folder / "one.onnx")
    split = export_onnx(model, folder / "split.onnx", iac_split=True)
    return model, one.path, split.path


def test_split_lowers_the_peak_where_f_dominates(wide_filters):
    model, one, split = wide_filters
    shape = (64, 96)
    before, after = peak_report(one, shape), peak_report(split, shape)
    f_bytes = filter_channels(12, 32, 3, "compact") * 8 * 12 * 4
    assert before["largest_live"][0] == {"name": IAC_FILTERS, "shape": [1, 1536, 8, 12], "dtype": "float32",
                                         "bytes": f_bytes, "producer": _producer(onnx.load(one).graph,
                                                                                 IAC_FILTERS).name}
    assert after["peak_bytes"] < before["peak_bytes"]
    assert all(t["shape"][1] <= filter_channels(1, 32, 3, "compact") for t in after["largest_live"])
    gain = split_gain(one, shape)
    assert gain["lowers"] and gain["split"]["peak_bytes"] == after["peak_bytes"]
    assert split_gain(split, shape) == {"lowers": False, "why": "expected one IFAN_IAC node, found 12"}
    feeds = make_inputs(model, 1, 32, 48, seed=7)
    assert_same(ort_run(split, feeds)[0], ort_run(one, feeds)[0])


def test_auto_keeps_the_one_node_form_when_split_does_not_help(tmp_path):
    model = small_model(n_iters=2, seed=8)  # at 64x96 the full-resolution stage is the peak
    result = export_onnx(model, tmp_path / "auto.onnx", shape=(64, 96), batch=1, iac_split="auto")
    assert not result.iac_split and read_metadata(result.path)[META.iac_split] == "false"
    assert result.path == tmp_path / "auto.onnx" and [p.name for p in tmp_path.iterdir()] == ["auto.onnx"]
    assert sum(n.op_type == PLUGIN_OP for n in onnx.load(result.path).graph.node) == 1


def test_export_cli_iac_split(tmp_path, capsys):
    import torch

    ckpt = tmp_path / "small.pth"
    torch.save({f"module.Network.{k}": v for k, v in small_model(n_iters=3, seed=9).state_dict().items()}, ckpt)
    out = tmp_path / "split.onnx"
    code = main(["export", "--checkpoint", str(ckpt), "-o", str(out), "--iac-split", "on", "--iac", "onnx",
                 "--static-size", "32x48", "--static-batch", "1"])
    stdout = capsys.readouterr().out
    assert code == 0
    assert "(N=3, official IAC as onnx, one node per iteration, compact filter layout)" in stdout
    assert "; never written (split IAC)" in stdout
    want = peak_report(out, (32, 48))["peak_bytes"]
    assert f"peak live activations at 1x3x32x48: {want / 1e6:.1f} MB ({want / 2e6:.1f} MB as FP16) at node" in stdout
    assert read_metadata(out)[META.iac_split] == "true"
