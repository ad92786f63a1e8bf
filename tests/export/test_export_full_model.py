"""The released architecture (ch=32, N=17) exports in under a minute and matches PyTorch."""

import numpy as np
import onnx
import torch

from ifan_trt.export import export_onnx
from ifan_trt.contract import PLUGIN_OP
from ifan_trt.export.graph import read_metadata
from ifan_trt.model import IFAN, IFANConfig

from tests.helpers.export import FP32_TOL, assert_close_iac, make_inputs, ort_run, torch_run



def test_full_model_plugin_form(tmp_path):
    torch.manual_seed(0)
    model = IFAN(IFANConfig()).eval()  # default init keeps the 17 iterations in range
    result = export_onnx(model, tmp_path / "ifan.onnx", iac_form="plugin")
    assert result.filter_layout == "compact"
    assert read_metadata(result.path)["ifan.variant"] == "IFAN"
    node = next(n for n in onnx.load(result.path).graph.node if n.op_type == PLUGIN_OP)
    assert {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}["N"] == 17
    feeds = make_inputs(model, 1, 24, 40)
    want, want_iac = torch_run(model, feeds)
    got, got_iac = ort_run(result.path, feeds)
    assert np.abs(got - want).max() <= FP32_TOL
    assert_close_iac(got_iac, want_iac)
    assert np.abs(want_iac).max() > 1e-3  # the IAC's output is not vanishingly small
