"""An INT8 Q/DQ graph ONNX Runtime's CPU provider runs fast (row e).

ifan_trt.calib.int8 makes the graph TensorRT wants: Q/DQ on convolution inputs only. ONNX
Runtime's CPU provider turns DQ -> Conv -> Q groups into QLinearConv, but a conv whose output
is not quantized stays a float conv (the DQs only add work), so that graph is no faster on the
CPU. Here the convolutions, their LeakyReLUs, the skip Adds and the sub-pixel DepthToSpace are
quantized with ONNX Runtime's own quantize_static (QDQ format, per-channel symmetric INT8
weights, symmetric INT8 activations as TensorRT wants them, or asymmetric UINT8), calibrated
with min/max on a few synthetic images. The IAC (every node named iac/...) stays float: it is a
per-pixel product chain that INT8 would ruin and it costs little.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

OPS = ["Conv", "LeakyRelu", "Add", "DepthToSpace"]
IAC_PREFIX = "iac/"


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
    os.replace(tmp, out)
    return out
