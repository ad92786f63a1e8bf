"""`ifan serve --onnx`: the exported graph behind Triton (ONNX Runtime, two instances) gives what
`ifan deblur --onnx` gives, for 8- and 16-bit images and for several same-size requests at once."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytriton", reason="PyTriton not installed (the serve extra)")
pytest.importorskip("onnxruntime", reason="ONNX Runtime not installed (the cpu extra)")
pytest.importorskip("onnxscript", reason="the ONNX export needs the torch extra")
httpclient = pytest.importorskip("tritonclient.http", reason="tritonclient not installed (the serve extra)")

from tests.helpers.serve import HOST, ServerProcess, make_array  # noqa: E402

from ifan_trt.runtime.serving.serve_protocol import from_wire, to_wire  # noqa: E402

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def folder():
    """The server's log, outside pytest's numbered temp folders (a concurrent session prunes those)."""
    with tempfile.TemporaryDirectory(prefix="ifan_serve_onnx_tests_") as name:
        yield Path(name)


@pytest.fixture(scope="module")
def onnx_model(models):
    return models("onnx")  # the standard-op export of the small model


@pytest.fixture(scope="module")
def server(onnx_model, folder):
    proc = ServerProcess(["--onnx", str(onnx_model), "--instances", "2", "--threads", "1"], folder / "serve.log")
    yield proc
    proc.stop()


def _infer(server, a):
    client = httpclient.InferenceServerClient(f"{HOST}:{server.http}", network_timeout=120)
    request = httpclient.InferInput("image", [1, *a.shape], "UINT8" if a.dtype == np.uint8 else "UINT16")
    request.set_data_from_numpy(a[None])
    try:
        return client.infer("ifan" if a.dtype == np.uint8 else "ifan_uint16", [request]).as_numpy("image")[0]
    finally:
        client.close()


def test_onnx_server_equals_local_onnx_runtime(server, onnx_model):
    from ifan_trt.runtime.executors.backends import open_executor
    from ifan_trt.runtime.images.pipeline import deblur_image

    assert "onnxruntime-cpu fp32, 2 instance(s)" in server.output()
    executor = open_executor("onnxruntime", onnx=str(onnx_model))
    arrays = [make_array(35, 41, 3, np.uint16, seed=1), make_array(19, 27, 1, np.uint8, seed=2)]
    arrays += [make_array(24, 40, 4, np.uint8, seed=10 + i) for i in range(4)]  # sent at once
    results: list = [None] * len(arrays)

    def send(i):
        results[i] = _infer(server, arrays[i])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(arrays))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for a, got in zip(arrays, results):
        want = to_wire(deblur_image(executor, from_wire(a)))
        assert got is not None and got.shape == want.shape and got.dtype == want.dtype
        assert np.abs(got.astype(np.int64) - want).max() <= 1
