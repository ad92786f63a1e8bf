"""Real TensorRT builds (GPU machines): strongly typed FP32/FP16/INT8 engines of a tiny graph and
the precision each layer got. Skipped here: no TensorRT, no GPU."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.build import tiny_graph  # noqa: E402

from tests.helpers.gpu import require_tensorrt_gpu  # noqa: E402

trt = require_tensorrt_gpu(binding=False)
pytestmark = pytest.mark.gpu


def _gpu_probe():
    from ifan_trt.runtime.tensorrt.cuda import probe_gpus

    return probe_gpus()


_PROBE = _gpu_probe()
if _PROBE.count == 0:  # a GPU behind a broken binding is named, not hidden behind "no GPU"
    pytest.skip(f"no usable CUDA GPU{f' ({_PROBE.problem})' if _PROBE.problem else ''}", allow_module_level=True)


@pytest.fixture(scope="module")
def pics(tmp_path_factory):
    import cv2

    folder = tmp_path_factory.mktemp("pics")
    for i in range(4):
        img = (np.random.default_rng(i).random((64, 64, 3)) * 255).astype(np.uint8)
        cv2.imwrite(str(folder / f"{i}.png"), cv2.GaussianBlur(img, (0, 0), 2))
    return folder


@pytest.mark.parametrize("precision, expect", [("fp32", "FP32"), ("fp16", "FP16"), ("int8", "INT8"),
                                               ("int8-fp16", "INT8")])
def test_strongly_typed_build_gives_the_asked_precision(tmp_path, pics, precision, expect):
    from ifan_trt.cli import build_parser
    from ifan_trt.commands import build as build_cmd
    from ifan_trt.runtime.tensorrt import build as engine_build

    onnx_path = tiny_graph(tmp_path / "tiny.onnx")
    out = tmp_path / f"tiny.{precision}.plan"
    args = build_parser().parse_args(["build", 
        "--onnx", str(onnx_path), "-o", str(out), "--precision", precision, "--calib-images", str(pics),
        "--calib-method", "minmax", "--calib-size", "64x64", "--shapes", "min=1x3x32x32,opt=1x3x64x64,max=2x3x128x128",
        "--workspace", "256M", "--timing-cache", str(tmp_path / "timing.cache")])
    assert build_cmd.run(args) == 0
    side = json.loads(Path(f"{out}.json").read_text())
    assert side["precision"] == precision
    assert side["tensorrt_version"] == trt.__version__
    assert side["gpu"]["compute_capability"] != "unknown"
    assert side["layer_precisions"].get(expect, 0) >= 1, side["layer_precisions"]
    assert (tmp_path / "timing.cache").stat().st_size > 0
    # the plan deserialises and reports the same layers again
    layers = engine_build.inspect_plan(trt, out.read_bytes(), False)
    assert any(lp.precision == expect for lp in layers)
