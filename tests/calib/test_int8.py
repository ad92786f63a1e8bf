"""INT8 Q/DQ graphs: TensorRT's conventions, the plugin form from the twin, the calibration cache."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests.helpers.calib import feeds_of, run_graph  # noqa: E402
from ifan_trt.export import graph as graphs
from ifan_trt.calib import emulate, images, int8, qdq
from ifan_trt.export.twin import standard_twin
from ifan_trt.errors import IfanError

SIZE = (32, 32)


def _psnr(a, b):
    return 10 * np.log10(1.0 / np.mean((a.astype(np.float64) - b) ** 2))


def _calibrate(path, folder, method="minmax", cache=None):
    model = onnx.load(path)
    paths = images.find_images(folder)
    return int8.calibrate(model, paths, lambda p: images.feeds_for(["input"], p, SIZE), method, SIZE, cache,
                          progress=False)


@pytest.fixture(scope="module")
def plugin_int8(small_exports, calib_images):
    return _calibrate(small_exports["plugin"], calib_images)


def _attr(node, name, default=None):
    return next((helper.get_attribute_value(a) for a in node.attribute if a.name == name), default)


def test_twin_of_plugin_form_equals_the_standard_export(small_exports, calib_images):
    plugin, standard = onnx.load(small_exports["plugin"]), onnx.load(small_exports["onnx"])
    twin = standard_twin(plugin)
    assert not graphs.plugin_nodes(twin)
    outside = {o for n in plugin.graph.node if n.op_type != "IFAN_IAC" for o in n.output}
    assert outside <= {o for n in twin.graph.node for o in n.output}  # same names outside the IAC
    for feeds in feeds_of(calib_images, SIZE)[:2]:
        want = run_graph(standard, feeds)
        assert np.abs(run_graph(twin, feeds) - want).max() <= 1e-6
        assert np.abs(run_graph(plugin, feeds) - want).max() <= 1e-6


def test_qdq_graph_follows_tensorrt_conventions(plugin_int8, small_exports):
    q, info = plugin_int8
    assert qdq.qdq_problems(q) == []
    inits = {t.name: t for t in q.graph.initializer}
    producers = {o: n for n in q.graph.node for o in n.output}
    consumers = {}
    for n in q.graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    convs = [n for n in q.graph.node if n.op_type in ("Conv", "ConvTranspose")]
    source = onnx.load(small_exports["plugin"])
    assert len(convs) == sum(n.op_type in ("Conv", "ConvTranspose") for n in source.graph.node)
    for conv in convs:
        x_dq, w_dq = producers[conv.input[0]], producers[conv.input[1]]
        assert x_dq.op_type == w_dq.op_type == "DequantizeLinear", conv.name
        # activations: per tensor; weights: per output channel on the right axis
        assert numpy_helper.to_array(inits[x_dq.input[1]]).size == 1
        axis = _attr(w_dq, "axis", 1)
        assert axis == (0 if conv.op_type == "Conv" else 1)
        weight = numpy_helper.to_array(inits[producers[w_dq.input[0]].input[0]])
        assert numpy_helper.to_array(inits[w_dq.input[1]]).shape == (weight.shape[axis],)
        assert conv.input[2] in inits and inits[conv.input[2]].data_type == TensorProto.FLOAT  # bias float
    for node in q.graph.node:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear"):
            zp = inits[node.input[2]]
            assert zp.data_type == TensorProto.INT8 and not numpy_helper.to_array(zp).any()
            assert inits[node.input[1]].data_type == TensorProto.FLOAT  # FP32 scales for FP32 tensors
        if node.op_type == "DequantizeLinear":  # Q/DQ only on convolution inputs
            assert {c.op_type for c in consumers[node.output[0]]} <= {"Conv", "ConvTranspose"}
    iac = graphs.plugin_nodes(q)[0]
    assert all(producers[i].op_type not in ("QuantizeLinear", "DequantizeLinear") for i in iac.input)
    assert producers[iac.input[0]].op_type == "LeakyRelu" and producers[iac.input[1]].op_type == "Conv"
    meta = graphs.metadata(q)
    assert meta["ifan.precision"] == "int8" and meta["ifan.iac_form"] == "plugin"
    assert json.loads(meta["ifan.calibration"])["images"] == 4
    assert info.summary().startswith("minmax calibration on 4 image(s) at 32x32")


def test_plugin_and_standard_forms_get_identical_qdq(plugin_int8, small_exports, calib_images):
    q_plugin, _ = plugin_int8
    q_standard, _ = _calibrate(small_exports["onnx"], calib_images)
    def scales(m):
        inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
        return {n.name: inits[n.input[1]] for n in m.graph.node if n.op_type == "QuantizeLinear"}
    a, b = scales(q_plugin), scales(q_standard)
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    for feeds in feeds_of(calib_images, SIZE)[:2]:
        assert np.abs(run_graph(q_plugin, feeds) - run_graph(q_standard, feeds)).max() <= 1e-5


def test_int8_fp16_graph_uses_fp16_scales_for_fp16_tensors(plugin_int8, small_exports, calib_images):
    q, _ = plugin_int8
    qh = qdq.to_int8_fp16(q)
    assert graphs.opset(qh) >= 19  # FP16 scales need QuantizeLinear-19
    assert qdq.qdq_problems(qh) == []
    types = emulate.tensor_types(qh)
    inits = {t.name: t for t in qh.graph.initializer}
    n_q = 0
    for node in qh.graph.node:
        if node.op_type == "QuantizeLinear":
            n_q += 1
            assert types[node.input[0]] == TensorProto.FLOAT16 == inits[node.input[1]].data_type
        if node.op_type == "DequantizeLinear":
            assert inits[node.input[1]].data_type == TensorProto.FLOAT16
            assert types[node.output[0]] == TensorProto.FLOAT16
    assert n_q == sum(n.op_type == "QuantizeLinear" for n in q.graph.node)
    assert graphs.metadata(qh)["ifan.precision"] == "int8-fp16"
    model = onnx.load(small_exports["plugin"])
    for feeds in feeds_of(calib_images, SIZE)[:2]:
        ref = run_graph(model, feeds)
        # random ch=8 weights: INT8 ~50 dB here; the FP16 storage costs well under a dB more
        p8 = _psnr(run_graph(q, feeds), ref)
        p8h = _psnr(run_graph(emulate.cpu_model(qh), feeds), ref)
        assert p8 > 40 and p8h > p8 - 1.0


def test_cache_is_reused_without_recalibrating(small_exports, calib_images, tmp_path, monkeypatch):
    cache = tmp_path / "c.json"
    q1, info1 = _calibrate(small_exports["onnx"], calib_images, "minmax", cache)
    assert not info1.from_cache
    data = json.loads(cache.read_text())
    entry = data["entries"][info1.key]
    assert entry["method"] == "minmax" and entry["size"] == [32, 32] and len(entry["images"]) == 4
    assert set(entry["ranges"]) == qdq.conv_inputs_of(onnx.load(small_exports["onnx"]))

    def no_calibration(*args, **kwargs):
        raise AssertionError("recalibrated although the cache holds these ranges")

    monkeypatch.setattr(int8, "collect_ranges", no_calibration)
    q2, info2 = _calibrate(small_exports["onnx"], calib_images, "minmax", cache)
    assert info2.from_cache and info2.key == info1.key
    assert "reused from the cache" in info2.summary()
    assert q1.graph.SerializeToString() == q2.graph.SerializeToString()
    # another method is another key: it must calibrate (and here it cannot)
    with pytest.raises(AssertionError, match="recalibrated"):
        _calibrate(small_exports["onnx"], calib_images, "percentile", cache)


def test_percentile_and_entropy_ranges_are_inside_minmax(tmp_path, calib_images):
    """On a two-conv graph (entropy's search costs ~1 s per tensor): the clipping methods give
    ranges within the min/max ones (symmetric quantization uses max(|lo|, |hi|))."""
    rng = np.random.default_rng(0)
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, None, None])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, None, None])
    inits = [numpy_helper.from_array(rng.normal(0, 0.5, (4, 3, 3, 3)).astype(np.float32), "w1"),
             numpy_helper.from_array(rng.normal(0, 0.5, (3, 4, 3, 3)).astype(np.float32), "w2")]
    nodes = [helper.make_node("Conv", ["input", "w1"], ["a"], pads=[1, 1, 1, 1], name="c1"),
             helper.make_node("LeakyRelu", ["a"], ["b"], alpha=0.1, name="act"),
             helper.make_node("Conv", ["b", "w2"], ["output"], pads=[1, 1, 1, 1], name="c2")]
    model = helper.make_model(helper.make_graph(nodes, "two", [x], [y], inits),
                              opset_imports=[helper.make_opsetid("", 19)])
    path = tmp_path / "two.onnx"
    onnx.save(model, path)
    ranges = {}
    for method in ("minmax", "percentile", "entropy"):
        _, info = _calibrate(path, calib_images, method)
        ranges[method] = {k: max(abs(lo), abs(hi)) for k, (lo, hi) in info.ranges.items()}
    assert set(ranges["minmax"]) == {"input", "b"}
    for name, limit in ranges["minmax"].items():
        assert 0 < ranges["percentile"][name] <= limit * 1.0001
        assert 0 < ranges["entropy"][name] <= limit * 1.0001
    assert ranges["entropy"]["b"] < ranges["minmax"]["b"]  # entropy clips the long tail


def test_wrong_weight_axis_is_recomputed_on_output_channels():
    """A per-channel ConvTranspose weight Q/DQ on axis 0 (input channels) is moved to axis 1."""
    rng = np.random.default_rng(1)
    w = rng.normal(0, 1, (4, 6, 2, 2)).astype(np.float32)  # ConvTranspose: [Cin, Cout, kh, kw]
    bad_scale = (np.abs(w).max(axis=(1, 2, 3)) / 127).astype(np.float32)
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(bad_scale, "w_scale"),
             numpy_helper.from_array(np.zeros(4, np.int8), "w_zp")]
    nodes = [helper.make_node("QuantizeLinear", ["w", "w_scale", "w_zp"], ["wq"], axis=0, name="q"),
             helper.make_node("DequantizeLinear", ["wq", "w_scale", "w_zp"], ["wd"], axis=0, name="dq"),
             helper.make_node("ConvTranspose", ["input", "wd"], ["output"], strides=[2, 2], name="up")]
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 4, 3, 3])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 6, 6, 6])
    model = helper.make_model(helper.make_graph(nodes, "t", [x], [y], inits),
                              opset_imports=[helper.make_opsetid("", 19)])
    assert any("weight axis 0 for ConvTranspose" in p for p in qdq.qdq_problems(model))
    assert qdq.fix_weight_axes(model) == ["w"]
    fixed = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    np.testing.assert_allclose(fixed["w_scale"], np.abs(w).max(axis=(0, 2, 3)) / 127, rtol=1e-6)
    assert fixed["w_zp"].shape == (6,) and not fixed["w_zp"].any()
    assert all(_attr(n, "axis") == 1 for n in model.graph.node if n.op_type != "ConvTranspose")
    assert not [p for p in qdq.qdq_problems(model) if "axis" in p]


def test_cli_precision_and_check(small_exports, calib_images, heldout_images, tmp_path, capsys):
    from ifan_trt.cli import main

    out = tmp_path / "m.int8.onnx"
    # a checkpoint is exported first (plugin form, beside the output), then calibrated
    args = ["precision", str(small_exports["checkpoint"]), "--to", "int8", "--calib-images", str(calib_images),
            "--calib-method", "minmax", "--calib-size", "32x32", "-o", str(out)]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert f"exporting {small_exports['checkpoint']}" in err
    assert "minmax calibration on 4 image(s) at 32x32: calibrated" in err
    assert (tmp_path / "m.int8.calib.json").is_file()
    fp32 = tmp_path / "small.fp32.onnx"
    assert graphs.metadata(onnx.load(fp32))["ifan.iac_form"] == "plugin"
    assert main([*args, "--overwrite"]) == 0  # the second run reuses export and cache
    err = capsys.readouterr().err
    assert "reused from the cache" in err and "exporting" not in err  # export reused too
    report = tmp_path / "audit.json"
    plot = ["--plot", str(tmp_path / "audit.png")] if _has("matplotlib") else []
    ok = main(["check", str(out), "--against", str(fp32), "--images",
               str(heldout_images), "--min-psnr", "30", "--json", str(report), *plot])
    text = capsys.readouterr().out
    assert ok == 0 and "PASS" in text and "mean" in text
    data = json.loads(report.read_text())
    assert len(data["images"]) == 3 and data["passed"] and data["mean"]["psnr"] > 30 and data["check"] == "precision"
    assert data["size"].startswith("native")
    assert all(0 <= row["correction_error"] < 0.5 for row in data["images"])
    if plot:
        assert (tmp_path / "audit.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = main(["check", str(out), "--against", str(small_exports["plugin"]), "--images",
                str(heldout_images), "--min-psnr", "99"])
    captured = capsys.readouterr()
    assert bad == 1 and "FAIL" in captured.out and "PSNR below 99 dB" in captured.err


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def test_calibrate_refuses_bad_inputs(small_exports, calib_images, tmp_path):
    q_path = tmp_path / "q.onnx"
    from ifan_trt.calib import prepare

    prepare.make_int8(small_exports["onnx"], q_path, calib_images, "minmax", size=SIZE, progress=False)
    with pytest.raises(IfanError, match="is a int8 graph; start from the FP32 export"):
        prepare.make_int8(q_path, tmp_path / "qq.onnx", calib_images, "minmax", size=SIZE, progress=False)
    with pytest.raises(IfanError, match="is an input"):
        prepare.make_int8(small_exports["onnx"], small_exports["onnx"], calib_images, progress=False)
    with pytest.raises(IfanError, match="no images"):
        prepare.make_int8(small_exports["onnx"], tmp_path / "x.onnx", tmp_path, progress=False)
    with pytest.raises(IfanError, match="calibration method 'fancy'"):
        int8.calibrate(onnx.load(small_exports["onnx"]), [], None, "fancy")


@pytest.mark.parametrize("method", ["minmax", "percentile"])
def test_cpu_target_is_laid_out_for_onnx_runtime(small_exports, calib_images, heldout_images, tmp_path, capsys,
                                                  method):
    """--to int8-cpu: the CPU rewrites, then DQ -> Conv -> Q units (UINT8 activations, per-channel
    INT8 weights) so ONNX Runtime runs the convs in INT8; the IAC's own ops and the RGB convs
    float; close to the FP32 graph; refused by `ifan build`."""
    from ifan_trt.cli import build_parser
    from ifan_trt.commands import build as build_cmd
    from ifan_trt.calib.cpu_int8 import IAC_PREFIX, thin_convs
    from ifan_trt.cli import main

    out = tmp_path / "m.int8-cpu.onnx"
    assert main(["precision", str(small_exports["plugin"]), "--to", "int8-cpu", "--calib-images", str(calib_images),
                 "--calib-method", method, "--calib-size", "32x32", "-o", str(out)]) == 0
    assert f"wrote {out} (INT8 for ONNX Runtime's CPU provider, {method} on 4 image(s) at 32x32" in capsys.readouterr().err
    q = onnx.load(out)
    meta = graphs.metadata(q)
    assert (meta["ifan.precision"], meta["ifan.int8_target"], meta["ifan.iac_form"]) == ("int8", "cpu", "onnx")
    producers = {o: n for n in q.graph.node for o in n.output}
    readers = {}
    for n in q.graph.node:
        for i in n.input:
            readers.setdefault(i, []).append(n)
    inits = {t.name: t for t in q.graph.initializer}
    convs = [n for n in q.graph.node if n.op_type == "Conv"]
    int8_convs = [n for n in convs if producers.get(n.input[0]) is not None
                  and producers[n.input[0]].op_type == "DequantizeLinear"]
    thin = set(thin_convs(q))  # at most 4 channels in or out: RGB convs (and this tiny model's 1-channel convs)
    assert 3 <= len(thin) <= 6 and {n.name for n in convs} - thin == {n.name for n in int8_convs}
    for conv in int8_convs:
        dq_x, dq_w = producers[conv.input[0]], producers[conv.input[1]]
        assert dq_w.op_type == "DequantizeLinear" and inits[dq_w.input[0]].data_type == TensorProto.INT8
        assert numpy_helper.to_array(inits[dq_w.input[1]]).size > 1  # per-channel weight scales
        assert inits[dq_x.input[2]].data_type == TensorProto.UINT8  # asymmetric UINT8 activations
        after = readers[conv.output[0]]
        assert after and all(r.op_type in ("QuantizeLinear", "LeakyRelu") for r in after), conv.name
    iac_products = [n for n in q.graph.node if n.name.startswith(IAC_PREFIX) and n.op_type in ("Mul", "Pad", "Add")]
    assert iac_products and not any(r.op_type == "QuantizeLinear" for n in iac_products
                                    for r in readers.get(n.output[0], []))  # the IAC's arithmetic is float
    assert not graphs.plugin_nodes(q) and not any(n.op_type == "ConvTranspose" for n in q.graph.node)
    for feeds in feeds_of(heldout_images, SIZE):
        assert _psnr(run_graph(q, feeds), run_graph(onnx.load(small_exports["onnx"]), feeds)) > 30

    args = build_parser().parse_args(["build", "--onnx", str(out), "--output", str(tmp_path / "m.engine")])
    with pytest.raises(IfanError, match="INT8 graph for ONNX Runtime's CPU provider"):
        build_cmd.run(args)


def test_cpu_target_refuses_tensorrt_options(small_exports, calib_images, tmp_path, capsys):
    from ifan_trt.cli import main

    assert main(["precision", str(small_exports["onnx"]), "--to", "int8-cpu", "--calib-images", str(calib_images),
                 "--keep-fp32", "Conv", "--cache", "c.json", "-o", str(tmp_path / "x.onnx")]) == 1
    assert capsys.readouterr().err == "ifan precision: error: --keep-fp32, --cache: not used by --to int8-cpu\n"
    assert main(["precision", str(small_exports["onnx"]), "--to", "int8", "-o", str(tmp_path / "x.onnx")]) == 1
    assert capsys.readouterr().err == ("ifan precision: error: --to int8: needs --calib-images DIR (images to "
                                       "calibrate the INT8 scales on)\n")
    assert main(["precision", str(small_exports["onnx"]), "--to", "int8", "--calib-images", str(calib_images),
                 "--no-measure", "-o", str(tmp_path / "x.onnx")]) == 1
    assert capsys.readouterr().err == "ifan precision: error: --no-measure: not used by --to int8\n"
    assert not (tmp_path / "x.onnx").exists()
