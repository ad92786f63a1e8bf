"""Readiness of `ifan serve`, from its first second: the readiness probe the docs give
(/v2/models/ifan_uint16/ready: the server loads `ifan`, then `ifan_uint16`) answers 200 only once
both models serve, the start line is printed only then, and `ifan deblur --server` sent while the
models load waits for them (one line) instead of failing."""

from __future__ import annotations

import http.client
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytriton", reason="PyTriton not installed (the serve extra)")
httpclient = pytest.importorskip("tritonclient.http", reason="tritonclient not installed (the serve extra)")

from tests.helpers.serve import HOST, ServerProcess, make_array, write_test_image  # noqa: E402

PROBE = "/v2/models/ifan_uint16/ready"  # the readiness probe docs/serving.md gives
pytestmark = pytest.mark.timeout(300)


def _status(port: int, path: str) -> int | None:
    try:
        connection = http.client.HTTPConnection(HOST, port, timeout=2)
        try:
            connection.request("GET", path)
            return connection.getresponse().status
        finally:
            connection.close()
    except OSError:
        return None


def _infer(port: int, a: np.ndarray) -> np.ndarray:
    client = httpclient.InferenceServerClient(f"{HOST}:{port}", network_timeout=120)
    request = httpclient.InferInput("image", list(a.shape), "UINT8" if a.dtype == np.uint8 else "UINT16")
    request.set_data_from_numpy(a)
    try:
        return client.infer("ifan" if a.dtype == np.uint8 else "ifan_uint16", [request]).as_numpy("image")
    finally:
        client.close()


def test_from_the_first_moment_the_probe_says_ready_requests_succeed(models, tmp_path):
    from ifan_trt.cli import main

    with tempfile.TemporaryDirectory(prefix="ifan_serve_ready_") as folder:
        server = ServerProcess(["--checkpoint", str(models("checkpoint")), "--threads", "1"], Path(folder) / "serve.log",
                               ready_s=None)
        try:
            probe_results: list = []

            def probe_then_send():  # polls the probe from the start; at its first 200, sends to both models
                deadline = time.monotonic() + 240
                while _status(server.http, PROBE) != 200:
                    assert time.monotonic() < deadline and server.proc.poll() is None
                    time.sleep(0.02)
                for dtype in (np.uint8, np.uint16):
                    a = make_array(24, 32, 3, dtype, seed=1)[None]
                    probe_results.append(_infer(server.http, a).shape == a.shape)

            prober = threading.Thread(target=probe_then_send)
            prober.start()
            # the moment Triton answers at all, while the models may still load: the client waits
            deadline = time.monotonic() + 240
            while _status(server.http, "/v2/health/live") != 200:
                assert time.monotonic() < deadline and server.proc.poll() is None, server.output()
                time.sleep(0.02)
            image = write_test_image(tmp_path / "one.png", make_array(19, 23, 3, np.uint8, seed=4))
            loading = [_status(server.http, f"/v2/models/{m}/ready") for m in ("ifan", "ifan_uint16")]
            assert main(["deblur", str(image), "-o", str(tmp_path / "out.png"), "--server",
                         f"http://{HOST}:{server.http}"]) == 0
            assert (tmp_path / "out.png").is_file()
            prober.join(240)
            assert probe_results == [True, True]
            # the start line is printed only once both models are ready
            while "ifan serve: http://" not in server.output():
                assert time.monotonic() < deadline and server.proc.poll() is None, server.output()
                time.sleep(0.02)
            assert [_status(server.http, f"/v2/models/{m}/ready") for m in ("ifan", "ifan_uint16")] == [200, 200]
            print(f"models' readiness when Triton first answered: {loading}")
        finally:
            server.stop()


def test_a_client_that_comes_while_the_models_load_says_it_waits(models, tmp_path, capsys):
    """The waiting line of `ifan deblur --server`, against a server that is up but whose models
    are not (Triton before PyTriton loads them)."""
    from ifan_trt.cli import main

    with tempfile.TemporaryDirectory(prefix="ifan_serve_ready_") as folder:
        server = ServerProcess(["--checkpoint", str(models("checkpoint")), "--threads", "1"], Path(folder) / "serve.log",
                               ready_s=None)
        try:
            deadline = time.monotonic() + 240
            while _status(server.http, "/v2/health/live") != 200:
                assert time.monotonic() < deadline and server.proc.poll() is None, server.output()
                time.sleep(0.01)
            loading = _status(server.http, "/v2/models/ifan_uint16/ready") != 200
            image = write_test_image(tmp_path / "one.png", make_array(19, 23, 3, np.uint8, seed=4))
            capsys.readouterr()
            assert main(["deblur", str(image), "-o", str(tmp_path / "out.png"), "--server",
                         f"http://{HOST}:{server.http}"]) == 0
            err = capsys.readouterr().err.splitlines()
            waiting = [line for line in err if "waiting up to 60 s for the model" in line]
            if loading:
                assert len(waiting) == 1 and waiting[0].startswith(f"ifan deblur: warning: http://{HOST}:{server.http}: ")
            else:
                pytest.skip("the models were ready when Triton first answered: no window to test")
        finally:
            server.stop()
