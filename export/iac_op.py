"""The IAC as a torch.library custom op, and its ONNX translation.

torch.export keeps ``ifan::iac`` as one opaque call (its decomposition, a long chain of pads and
multiply-adds, never reaches the graph); the exporter's ``custom_translation_table`` then emits
the single ``IFAN_IAC`` plugin node. The standard-op form replaces that node afterwards
(export/twin.py), so every tensor outside the IAC keeps its name in both forms.
"""

from __future__ import annotations

import onnx
import torch
from onnx.defs import OpSchema
from onnxscript.values import Opset

from ifan_trt.contract import (LAYOUT_CODES, LAYOUTS, MODE_CODES, MODES, PLUGIN_DOMAIN, PLUGIN_NAMESPACE, PLUGIN_OP,
                               PLUGIN_VERSION, filter_channels)
from ifan_trt.iac import iac

from .iac_split import iteration_rows


@torch.library.custom_op("ifan::iac", mutates_args=())
def iac_op(x: torch.Tensor, filters: torch.Tensor, n_iters: int, k: int, mode: int, layout: int,
           slope: float) -> torch.Tensor:
    """ifan_trt.iac.iac with mode/layout as the plugin's INT codes."""
    return iac(x, filters, n_iters, k, MODES[mode], LAYOUTS[layout], slope)


@iac_op.register_fake
def _iac_shape(x, filters, n_iters, k, mode, layout, slope):
    return torch.empty_like(x)


class SplitIACOp(torch.nn.Module):
    """The IAC with the filter predictor's last 1x1 conv folded in, one custom op per iteration
    (N=1), each fed by a conv over the rows of F that iteration reads (export/iac_split.py).
    forward(x, trunk): trunk is the conv's input, so the full F is never computed."""

    def __init__(self, conv: torch.nn.Conv2d, n_iters: int, k: int, mode: str, layout: str, slope: float):
        super().__init__()
        self.layout = layout
        c = conv.out_channels // filter_channels(n_iters, 1, k, layout)
        self.convs = torch.nn.ModuleList()
        for i in range(n_iters):
            rows = torch.tensor(iteration_rows(n_iters, c, k, layout, i))
            part = torch.nn.Conv2d(conv.in_channels, len(rows), 1)
            with torch.no_grad():
                part.weight.copy_(conv.weight[rows])
                part.bias.copy_(conv.bias[rows])
            self.convs.append(part)
        self.args = (1, k, MODE_CODES[mode], LAYOUT_CODES[layout], float(slope))

    def forward(self, x: torch.Tensor, trunk: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = iac_op(x, conv(trunk), *self.args)
        return x


class IACOp(torch.nn.Module):
    """Drop-in replacement for ifan_trt.iac.IAC that calls the custom op (what export sees)."""

    def __init__(self, n_iters: int, k: int, mode: str, layout: str, slope: float):
        super().__init__()
        self.layout = layout
        self.args = (n_iters, k, MODE_CODES[mode], LAYOUT_CODES[layout], float(slope))

    def forward(self, x: torch.Tensor, filters: torch.Tensor) -> torch.Tensor:
        return iac_op(x, filters, *self.args)


def _register_plugin_schema() -> None:
    """onnxscript builds nodes only for ops with a schema: declare IFAN_IAC once per process.

    The schema also makes onnx.checker check the node's attributes in this process.
    """
    if onnx.defs.has(PLUGIN_OP, PLUGIN_DOMAIN):
        return
    attr = OpSchema.Attribute
    kind = OpSchema.AttrType
    schema = OpSchema(
        PLUGIN_OP, PLUGIN_DOMAIN, 1,
        doc="IFAN's iterative adaptive convolution (TensorRT plugin IFAN_IAC, see plugins/).",
        inputs=[OpSchema.FormalParameter("features", "T"), OpSchema.FormalParameter("filters", "T")],
        outputs=[OpSchema.FormalParameter("output", "T")],
        type_constraints=[("T", ["tensor(float)", "tensor(float16)"], "features and filters type")],
        attributes=[
            attr("plugin_version", kind.STRING, "TensorRT plugin version"),
            attr("plugin_namespace", kind.STRING, "TensorRT plugin namespace"),
            attr("N", kind.INT, "iterations"),
            attr("k", kind.INT, "taps per pass (odd)"),
            attr("mode", kind.INT, "0 official (kernel1 twice), 1 corrected (kernel2 horizontally)"),
            attr("layout", kind.INT, "filter layout: 0 full, 1 compact (kernel2 rows pruned)"),
            attr("slope", kind.FLOAT, "leaky ReLU slope"),
        ],
    )
    onnx.defs.register_schema(schema)


_register_plugin_schema()
_plugin_opset = Opset(PLUGIN_DOMAIN, 1)


def iac_plugin(x, filters, n_iters: int, k: int, mode: int, layout: int, slope: float):
    """Translation to the one plugin node, attributes per the plugin contract."""
    return _plugin_opset.IFAN_IAC(
        x, filters, plugin_version=PLUGIN_VERSION, plugin_namespace=PLUGIN_NAMESPACE,
        N=n_iters, k=k, mode=mode, layout=layout, slope=slope)
