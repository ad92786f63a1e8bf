"""`ifan serve --engine` on a real Triton server, through the TensorRT and CUDA stand-ins
(tests/helpers/fake_tensorrt.py, fake_cuda.py): two instances answer concurrent clients from
Triton's threads with either CUDA binding, every answer equals ONNX Runtime on the engine's own
graph, and the stop frees everything the executors took from the (stand-in) GPU."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytriton", reason="PyTriton not installed (the serve extra)")
pytest.importorskip("onnxruntime", reason="ONNX Runtime not installed (the cpu extra)")
pytest.importorskip("onnxscript", reason="the ONNX export needs the torch extra")
pytest.importorskip("polygraphy", reason="ifan build needs Polygraphy (the cpu extra)")
httpclient = pytest.importorskip("tritonclient.http", reason="tritonclient not installed (the serve extra)")

from tests.helpers import fake_tensorrt  # noqa: E402
from tests.helpers.serve import HOST, ServerProcess, make_array  # noqa: E402

pytestmark = pytest.mark.timeout(400)
REPO = Path(__file__).resolve().parents[2]
TRT_VERSION = "10.3.0.26"


@pytest.fixture(scope="module")
def folder():
    """Engine, logs and reports outside pytest's numbered temp folders (a concurrent session prunes those)."""
    with tempfile.TemporaryDirectory(prefix="ifan_serve_engine_tests_") as name:
        yield Path(name)


@pytest.fixture(scope="module")
def engine(models, folder):
    """An FP32 engine of the small model's plugin export, built here with the stand-ins installed."""
    export = models("plugin")  # before the stand-ins: torch.export trips on a fake tensorrt
    plugin = fake_tensorrt.write_plugin_library(folder, 10)
    with pytest.MonkeyPatch.context() as mp:
        fake_tensorrt.install(mp, TRT_VERSION)
        mp.setenv("IFAN_TRT_PLUGIN", str(plugin))
        path = fake_tensorrt.build(export, folder / "small.plan", "--iac-split", "off",
                                   "--shapes", "min=1x3x16x16,opt=1x3x24x40,max=2x3x64x64")
    return path, plugin


def _infer(server, a):
    client = httpclient.InferenceServerClient(f"{HOST}:{server.http}", network_timeout=120)
    request = httpclient.InferInput("image", [1, *a.shape], "UINT8" if a.dtype == np.uint8 else "UINT16")
    request.set_data_from_numpy(a[None])
    try:
        return client.infer("ifan" if a.dtype == np.uint8 else "ifan_uint16", [request]).as_numpy("image")[0]
    finally:
        client.close()


@pytest.mark.parametrize("binding", ["cuda-python", "pycuda"])
def test_engine_instances_answer_concurrent_clients_with_either_binding(engine, folder, binding):
    """Only `binding` installed (pycuda alone: a Jetson's install). Answers equal ONNX Runtime on the
    engine's graph to one code value (the float results agree within 1e-5; rounding to 8 or 16 bits
    may then differ by one)."""
    from ifan_trt.runtime.executors.ort_executor import OrtExecutor
    from ifan_trt.runtime.images.pipeline import Tiling
    from ifan_trt.runtime.serving.serve import ImageHandler
    from ifan_trt.runtime.serving.serve_protocol import DEFAULT_MAX_IMAGE_PIXELS
    from ifan_trt.runtime.model_files.sidecar import read_sidecar

    path, plugin = engine
    report = folder / f"report-{binding}.json"
    env = {**os.environ, "IFAN_TRT_PLUGIN": str(plugin),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    launcher = [sys.executable, "-m", "tests.helpers.serve_standin", str(report), binding, TRT_VERSION, "--"]
    server = ServerProcess(["--engine", str(path), "--instances", "2", "--max-batch", "2"],
                           folder / f"serve-{binding}.log", launcher=launcher, env=env)
    try:
        assert "2 instance(s)" in server.output() and "2 batches in flight per instance" in server.output()
        arrays = [make_array(24, 40, 3, np.uint8, seed=10 + i) for i in range(10)]  # same size: Triton batches them
        arrays += [make_array(35, 41, 3, np.uint16, seed=1), make_array(19, 27, 1, np.uint8, seed=2)]
        results: list = [None] * len(arrays)
        errors: list = []

        def send(indices):
            try:
                for i in indices:
                    results[i] = _infer(server, arrays[i])
            except Exception as exc:  # reported below, with the server's log
                errors.append(exc.message() if isinstance(exc, httpclient.InferenceServerException) else repr(exc))

        clients = [threading.Thread(target=send, args=(range(k, len(arrays), 6),)) for k in range(6)]
        for t in clients:
            t.start()
        for t in clients:
            t.join(180)
        assert not errors and not any(t.is_alive() for t in clients), f"{errors}\n{server.output()}"
    finally:
        code = server.stop()
    assert code == 0, server.output()
    assert "ifan serve: stopped" in server.output()
    reference = ImageHandler(OrtExecutor(read_sidecar(path)["onnx"]["path"]), Tiling(), DEFAULT_MAX_IMAGE_PIXELS)
    for a, got in zip(arrays, results):
        want = reference(a[None])[0]
        assert got is not None and got.shape == want.shape and got.dtype == want.dtype
        assert np.abs(got.astype(np.int64) - want).max() <= 1
    served = json.loads(report.read_text())
    assert served["bindings"] == [binding]
    # 2 instances x 2 batches in flight (--in-flight's default): four Triton model instances, each
    # engine's two sharing its pipeline; both engines answered
    assert len({executor for _, _, executor in served["calls"]}) == 2, served["calls"]
    assert len({handler for handler, _, _ in served["calls"]}) >= 2, served["calls"]
    threads = {thread for _, thread, _ in served["calls"]}
    assert len(threads) >= 2 and "MainThread" not in threads, threads  # from Triton's threads, not the opener's
    assert served["live"] == {}, "the executors' CUDA resources outlived the server"


@pytest.fixture(scope="module")
def uint8_engine(models, folder):
    """An FP32 engine of the small model's uint8-I/O plugin export (RGB frames in and out)."""
    from ifan_trt.export import export_onnx

    export = export_onnx(models("checkpoint"), folder / "small_u8.onnx", iac_form="plugin", io="uint8",
                         channel_order="rgb").path
    plugin = fake_tensorrt.write_plugin_library(folder, 10)
    with pytest.MonkeyPatch.context() as mp:
        fake_tensorrt.install(mp, TRT_VERSION)
        mp.setenv("IFAN_TRT_PLUGIN", str(plugin))
        path = fake_tensorrt.build(export, folder / "small_u8.plan", "--iac-split", "off",
                                   "--shapes", "min=1x3x16x16,opt=1x3x24x40,max=2x3x64x64")
    return path, plugin


def test_a_uint8_engine_serves_8_bit_frames_pipelined_and_refuses_16_bit_in_one_line(uint8_engine, folder):
    """Three batches in flight on a uint8-I/O engine: 8-bit RGB answers equal ONNX Runtime on the
    engine's graph to one code value; a 16-bit image (which needs the float network) is refused
    with the reason, and the server goes on."""
    from ifan_trt.runtime.executors.ort_executor import OrtExecutor
    from ifan_trt.runtime.images.pipeline import Tiling
    from ifan_trt.runtime.serving.serve import ImageHandler
    from ifan_trt.runtime.serving.serve_protocol import DEFAULT_MAX_IMAGE_PIXELS
    from ifan_trt.runtime.model_files.sidecar import read_sidecar

    path, plugin = uint8_engine
    report = folder / "report-uint8.json"
    env = {**os.environ, "IFAN_TRT_PLUGIN": str(plugin),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    launcher = [sys.executable, "-m", "tests.helpers.serve_standin", str(report), "cuda-python", TRT_VERSION, "--"]
    server = ServerProcess(["--engine", str(path), "--in-flight", "3", "--max-batch", "2"],
                           folder / "serve-uint8.log", launcher=launcher, env=env)
    try:
        assert "uint8-io" in server.output() and "3 batches in flight per instance" in server.output()
        arrays = [make_array(24, 40, 3, np.uint8, seed=20 + i) for i in range(6)]
        results: list = [None] * len(arrays)
        errors: list = []

        def send(indices):
            try:
                for i in indices:
                    results[i] = _infer(server, arrays[i])
            except Exception as exc:  # reported below, with the server's log
                errors.append(repr(exc))

        clients = [threading.Thread(target=send, args=(range(k, len(arrays), 3),)) for k in range(3)]
        for t in clients:
            t.start()
        for t in clients:
            t.join(180)
        assert not errors, f"{errors}\n{server.output()}"
        with pytest.raises(httpclient.InferenceServerException, match="a 16-bit image: this engine has uint8 I/O"):
            _infer(server, make_array(24, 40, 3, np.uint16, seed=3))
        assert _infer(server, arrays[0]).shape == arrays[0].shape  # still serving
    finally:
        code = server.stop()
    assert code == 0, server.output()
    reference = ImageHandler(OrtExecutor(read_sidecar(path)["onnx"]["path"]), Tiling(), DEFAULT_MAX_IMAGE_PIXELS)
    for a, got in zip(arrays, results):
        want = reference(a[None])[0]
        assert got is not None and got.dtype == np.uint8 and got.shape == want.shape
        assert np.abs(got.astype(np.int64) - want).max() <= 1
    assert json.loads(report.read_text())["live"] == {}
