"""An INT8 Q/DQ graph ONNX Runtime's CPU provider runs fast (row e).

ifan_trt.calib.int8 makes the graph TensorRT wants: Q/DQ on convolution inputs only. ONNX
Runtime's CPU provider turns DQ -> Conv -> Q groups into QLinearConv, but a conv whose output
is not quantized stays a float conv (the DQs only add work), so that graph is no faster on the
CPU. Here the convolutions, their LeakyReLUs, the skip Adds and the sub-pixel DepthToSpace are
quantized with ONNX Runtime's own quantize_static (QDQ format, per-channel symmetric INT8
weights, symmetric INT8 activations as TensorRT wants them, or asymmetric UINT8), calibrated
with min/max on a few synthetic images. The IAC (every node named iac/...) stays float: it is a
per-pixel product chain that INT8 would ruin and it costs little; the streamed filter convs that
feed it may be quantized (their outputs are dequantized before the IAC). The RGB convs at full
resolution (3 channels in or out) stay float: ONNX Runtime's INT8 kernels are slower on them.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

OPS = ["Conv", "LeakyRelu", "Add", "DepthToSpace"]
IAC_PREFIX = "iac/"


def thin_convs(model, max_channels: int = 4) -> list[str]:
    """Convs with at most max_channels inputs or outputs (IFAN's RGB in and out convs at full
    resolution): ONNX Runtime's INT8 kernels run them slower than its FP32 ones, so they stay float."""
    shapes = {t.name: list(t.dims) for t in model.graph.initializer}
    out = []
    for n in model.graph.node:
        dims = shapes.get(n.input[1]) if n.op_type == "Conv" and len(n.input) > 1 else None
        if dims and (dims[0] <= max_channels or dims[1] <= max_channels):
            out.append(n.name)
    return out


class _Feeds:
    """The calibration data reader ONNX Runtime expects."""

    def __init__(self, arrays: list[np.ndarray]):
        self._it = iter(arrays)

    def get_next(self):
        x = next(self._it, None)
        return None if x is None else {"input": x}


def quantize(fp32: Path, out: Path, calibration: list[np.ndarray], activations: str = "s8",
             quantize_filters: bool = False) -> Path:
    """quantize_filters: also quantize the streamed filter convs (iac/.../stream/Conv)."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    model = onnx.load(os.fspath(fp32), load_external_data=False)
    exclude = [n.name for n in model.graph.node if n.name.startswith(IAC_PREFIX)
               and not (quantize_filters and n.op_type == "Conv")]
    thin = thin_convs(model)
    exclude += thin  # float weights; float_convs below also frees their activations
    symmetric = activations == "s8"
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    with tempfile.TemporaryDirectory(prefix="ifan-bench-int8-") as work:
        # the quantizer writes helper models beside its working copy
        src = Path(work) / "fp32.onnx"
        onnx.save(onnx.load(os.fspath(fp32)), os.fspath(src))
        quantize_static(
            os.fspath(src), os.fspath(tmp), _Feeds(calibration),
            quant_format=QuantFormat.QDQ, op_types_to_quantize=OPS, nodes_to_exclude=exclude,
            per_channel=True, activation_type=QuantType.QInt8 if symmetric else QuantType.QUInt8,
            weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax,
            extra_options={"ActivationSymmetric": symmetric, "WeightSymmetric": True},
        )
    quantized = onnx.load(os.fspath(tmp))
    float_convs(quantized, thin)
    onnx.save(quantized, os.fspath(tmp))
    os.replace(tmp, out)
    return out


def float_convs(model, names: list[str]) -> int:
    """Take the named convs out of the Q/DQ graph: their input is the float tensor before its
    Q/DQ pair, their output feeds the readers of the Q/DQ pair after them directly (weights
    stay float). Q/DQ nodes nobody reads any more are dropped. Returns how many were freed."""
    producers = {o: n for n in model.graph.node for o in n.output}
    readers: dict[str, list] = {}
    for n in model.graph.node:
        for i in n.input:
            readers.setdefault(i, []).append(n)
    freed = 0
    for conv in [n for n in model.graph.node if n.name in set(names)]:
        dq = producers.get(conv.input[0])
        q = producers.get(dq.input[0]) if dq is not None and dq.op_type == "DequantizeLinear" else None
        if q is not None and q.op_type == "QuantizeLinear":
            conv.input[0] = q.input[0]
        after = readers.get(conv.output[0], [])
        if len(after) == 1 and after[0].op_type == "QuantizeLinear":
            for dq_after in readers.get(after[0].output[0], []):
                if dq_after.op_type != "DequantizeLinear":
                    continue
                for user in readers.get(dq_after.output[0], []):
                    user.input[:] = [conv.output[0] if i == dq_after.output[0] else i for i in user.input]
        freed += 1
    from ifan_trt.calib.int8 import remove_dead_qdq

    remove_dead_qdq(model)
    return freed
