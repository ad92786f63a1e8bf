"""The IAC as a torch.library custom op, and its two ONNX translations.

torch.export keeps ``ifan::iac`` as one opaque call (its decomposition, a long chain of pads and
multiply-adds, never reaches the graph); the exporter's ``custom_translation_table`` then emits
either the single ``IFAN_IAC`` plugin node or the same maths in standard ONNX ops. Both
translations receive the same boundary values, so every tensor outside the IAC keeps its name.
"""

from __future__ import annotations

import onnx
import torch
from onnx.defs import OpSchema
from onnxscript import opset19 as op
from onnxscript.values import Opset

from ifan_trt.contract import (LAYOUT_CODES, LAYOUTS, MODE_CODES, MODES, PLUGIN_DOMAIN, PLUGIN_NAMESPACE, PLUGIN_OP,
                               PLUGIN_VERSION, iteration_channels)
from ifan_trt.iac import iac


@torch.library.custom_op("ifan::iac", mutates_args=())
def iac_op(x: torch.Tensor, filters: torch.Tensor, n_iters: int, k: int, mode: int, layout: int,
           slope: float) -> torch.Tensor:
    """ifan_trt.iac.iac with mode/layout as the plugin's INT codes."""
    return iac(x, filters, n_iters, k, MODES[mode], LAYOUTS[layout], slope)


@iac_op.register_fake
def _iac_shape(x, filters, n_iters, k, mode, layout, slope):
    return torch.empty_like(x)


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


_INT64_MAX = 2**63 - 1


def _directional_pass(x, filters, start: int, c: int, k: int, axis: int):
    """sum_t F[:, start + ch*k + t] * x shifted by t - p along axis, with edge padding.

    Shifts are Slices of the padded tensor with constant starts/ends (negative ends count from
    the end), so no Shape ops: TensorRT sees static slice parameters.
    """
    p = (k - 1) // 2
    pads = [0, 0, p, 0, 0, 0, p, 0] if axis == 2 else [0, 0, 0, p, 0, 0, 0, p]
    xp = op.Pad(x, op.Constant(value_ints=pads), mode="edge") if p else x
    out = None
    for t in range(k):
        end = t - 2 * p if t < 2 * p else _INT64_MAX
        shifted = op.Slice(xp, op.Constant(value_ints=[t]), op.Constant(value_ints=[end]),
                           op.Constant(value_ints=[axis])) if p else xp
        kernel = op.Slice(filters, op.Constant(value_ints=[start + t]),
                          op.Constant(value_ints=[start + c * k]), op.Constant(value_ints=[1]),
                          op.Constant(value_ints=[k]))
        term = op.Mul(kernel, shifted)
        out = term if out is None else op.Add(out, term)
    return out


def iac_standard(x, filters, n_iters: int, k: int, mode: int, layout: int, slope: float):
    """Translation to standard ONNX ops: per iteration edge Pad + Slice + Mul + Add per pass,
    then Add bias and LeakyRelu, in the order of ifan_trt.iac.iac."""
    c = x.shape[1]
    if not isinstance(c, int):
        raise ValueError("the IAC's feature channels must be static to export the standard-op form")
    for i in range(n_iters):
        kv, kh, b0 = iteration_channels(i, n_iters, c, k, mode, layout)
        v = _directional_pass(x, filters, kv, c, k, axis=2)
        h = _directional_pass(v, filters, kh, c, k, axis=3)
        bias = op.Slice(filters, op.Constant(value_ints=[b0]),
                        op.Constant(value_ints=[b0 + c]), op.Constant(value_ints=[1]))
        x = op.LeakyRelu(op.Add(h, bias), alpha=slope)
    return x


TRANSLATIONS = {"plugin": iac_plugin, "onnx": iac_standard}
