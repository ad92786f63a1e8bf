"""`ifan serve` on a real Triton server (PyTriton's tritonserver) on 127.0.0.1: results equal a local
run, concurrency, dynamic batching, malformed requests, a client that hangs up, `ifan deblur --server`
and a clean SIGTERM stop. One server for the module (it takes ~20 s to start on 2 cores)."""

from __future__ import annotations

import json
import socket
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytriton", reason="PyTriton not installed (the serve extra)")
httpclient = pytest.importorskip("tritonclient.http", reason="tritonclient not installed (the serve extra)")
grpcclient = pytest.importorskip("tritonclient.grpc", reason="tritonclient not installed (the serve extra)")

from tests.helpers.serve import HOST, ServerProcess, make_array, write_test_image  # noqa: E402

from ifan_trt.runtime.serving.serve_protocol import from_wire, to_wire  # noqa: E402

BUDGET = 120_000  # --max-image-pixels of the test server
TILING = ["--max-pixels", "4096", "--overlap", "8"]  # images above 64x64 run in tiles, on the server as locally
pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def folder():
    """The server's log, outside pytest's numbered temp folders (a concurrent pytest session
    prunes those; the server outlives single tests)."""
    with tempfile.TemporaryDirectory(prefix="ifan_serve_tests_") as name:
        yield Path(name)


@pytest.fixture(scope="module")
def checkpoint(models):
    return models("checkpoint")


@pytest.fixture(scope="module")
def server(checkpoint, folder):
    log = folder / "serve.log"
    # a long queue delay so that concurrent same-size requests are sure to meet in one batch
    proc = ServerProcess(["--checkpoint", str(checkpoint), "--instances", "2", "--max-batch", "4",
                          "--max-queue-delay-us", "100000",
                          "--max-image-pixels", str(BUDGET), "--threads", "1", *TILING], log)
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def local(checkpoint):
    """local(array) -> what `ifan deblur` computes for that image, as the same [H, W, C] samples."""
    from ifan_trt.runtime.executors.backends import open_executor
    from ifan_trt.runtime.images.pipeline import Tiling, deblur_image

    executor = open_executor("torch", checkpoint=str(checkpoint))
    tiling = Tiling(max_pixels=int(TILING[1]), overlap=int(TILING[3]))
    return lambda a, tiled=True: to_wire(deblur_image(executor, from_wire(a), tiling=tiling if tiled else None))


def http_infer(server, a: np.ndarray, model: str | None = None) -> np.ndarray:
    client = httpclient.InferenceServerClient(f"{HOST}:{server.http}", network_timeout=120)
    model = model or ("ifan" if a.dtype == np.uint8 else "ifan_uint16")
    request = httpclient.InferInput("image", list(a.shape), {np.uint8: "UINT8", np.uint16: "UINT16",
                                                             np.float32: "FP32"}[a.dtype.type])
    request.set_data_from_numpy(a)
    try:
        return client.infer(model, [request]).as_numpy("image")
    finally:
        client.close()  # in this thread: gevent's hub is per thread


def assert_within_one(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape and got.dtype == want.dtype
    assert np.abs(got.astype(np.int64) - want.astype(np.int64)).max() <= 1


def test_start_line_names_addresses_model_and_backend(server, checkpoint):
    line = next(l for l in server.output().splitlines() if l.startswith("ifan serve: "))
    assert f"http://{HOST}:{server.http}" in line and f"grpc://{HOST}:{server.grpc}" in line
    assert f"{HOST}:{server.metrics}/metrics" in line
    assert str(checkpoint) in line and "torch fp32" in line and "ifan, ifan_uint16" in line
    assert "2 instance(s), batches up to 4" in line
    config = httpclient.InferenceServerClient(f"{HOST}:{server.http}").get_model_config("ifan")
    assert config["max_batch_size"] == 4 and sum(g["count"] for g in config["instance_group"]) == 2
    assert config["dynamic_batching"]["max_queue_delay_microseconds"] == 100000
    assert [(t["name"], t["data_type"], t["dims"]) for t in config["input"]] == [("image", "TYPE_UINT8", [-1, -1, -1])]


@pytest.mark.parametrize("h, w, c, dtype", [(37, 53, 3, np.uint8), (29, 45, 3, np.uint16), (41, 31, 1, np.uint8),
                                            (33, 47, 4, np.uint8), (27, 39, 4, np.uint16), (83, 101, 3, np.uint8)],
                         ids=["rgb8", "rgb16", "gray8", "rgba8", "rgba16", "rgb8-tiled"])
def test_results_equal_a_local_run(server, local, h, w, c, dtype):
    a = make_array(h, w, c, dtype, seed=h)
    out = http_infer(server, a[None])[0]
    assert_within_one(out, local(a))
    if c == 4:  # alpha passes through untouched
        assert np.array_equal(out[:, :, 3], a[:, :, 3])
    assert np.abs(out.astype(float) - a).mean() > 0.5  # the model did change the image
    if h * w > int(TILING[1]):  # the server did tile it: the whole-image result differs
        assert np.abs(out.astype(np.int64) - local(a, tiled=False)).max() > 1


def test_grpc_gives_the_same_result(server, local):
    a = make_array(35, 43, 3, np.uint8, seed=5)
    client = grpcclient.InferenceServerClient(f"{HOST}:{server.grpc}")
    request = grpcclient.InferInput("image", [1, *a.shape], "UINT8")
    request.set_data_from_numpy(a[None])
    assert_within_one(client.infer("ifan", [request]).as_numpy("image")[0], local(a))


def test_sixteen_concurrent_clients_each_get_their_own_image(server, local):
    sizes = [(23, 31), (40, 24), (17, 57)]
    arrays = [make_array(*sizes[i % 3], 3, np.uint8, seed=100 + i) for i in range(16)]
    wanted = [local(a) for a in arrays]
    results: list = [None] * 16

    def client(i):
        try:
            results[i] = http_infer(server, arrays[i][None])[0]
        except Exception as exc:  # reported by the assertion below
            results[i] = exc

    threads = [threading.Thread(target=client, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for got, want in zip(results, wanted):
        assert isinstance(got, np.ndarray), got
        assert_within_one(got, want)


def test_health_and_metrics_endpoints(server):
    from urllib.request import urlopen

    for path in ("/v2/health/live", "/v2/health/ready", "/v2/models/ifan/ready", "/v2/models/ifan_uint16/ready"):
        with urlopen(f"http://{HOST}:{server.http}{path}", timeout=10) as answer:
            assert answer.status == 200
    with urlopen(f"http://{HOST}:{server.metrics}/metrics", timeout=10) as answer:
        metrics = answer.read().decode()
    assert 'nv_inference_request_success{model="ifan",version="1"}' in metrics


def _stats(server, model: str = "ifan") -> tuple[int, int]:
    client = httpclient.InferenceServerClient(f"{HOST}:{server.http}")
    stats = client.get_inference_statistics(model)["model_stats"][0]
    return int(stats["inference_count"]), int(stats["execution_count"])


def test_dynamic_batching_runs_same_size_requests_together(server):
    before = _stats(server, "ifan_uint16")
    arrays = [make_array(26, 34, 3, np.uint16, seed=i) for i in range(8)]
    threads = [threading.Thread(target=http_infer, args=(server, a[None])) for a in arrays]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    inferences, executions = (x - y for x, y in zip(_stats(server, "ifan_uint16"), before))
    assert inferences == 8
    assert executions < inferences  # at least one batch held several requests


@pytest.mark.parametrize("array, model, message", [
    (np.zeros((1, 20, 20, 3), np.uint16), "ifan", "data-type is 'UINT16'"),
    (np.zeros((1, 20, 20, 3), np.float32), "ifan", "data-type is 'FP32'"),
    (np.zeros((1, 20, 20), np.uint8), "ifan", "unexpected shape"),
    (np.zeros((20, 20, 3), np.uint8), "ifan", "batch-size must be <= 4"),
    (np.zeros((1, 1, 20, 20, 3), np.uint8), "ifan", "unexpected shape"),
    (np.zeros((1, 0, 20, 3), np.uint8), "ifan", "Failed to process the request"),  # PyTriton refuses it
    (np.zeros((1, 20, 20, 2), np.uint8), "ifan", "2 channels"),
    (np.zeros((1, 400, 400, 3), np.uint8), "ifan", "above this server's budget of 120000"),
], ids=["uint16-to-ifan", "fp32", "rank3", "no-batch-dim", "rank5", "zero-size", "two-channels", "over-budget"])
def test_bad_request_is_refused_and_the_server_keeps_serving(server, local, array, model, message):
    with pytest.raises(Exception) as refused:
        http_infer(server, array, model)
    assert message in str(refused.value)
    a = make_array(21, 19, 3, np.uint8, seed=7)
    assert_within_one(http_infer(server, a[None])[0], local(a))


def _raw_http(server, payload: bytes, read: bool = True) -> bytes:
    with socket.create_connection((HOST, server.http), timeout=30) as s:
        s.sendall(payload)
        if not read:
            return b""
        s.shutdown(socket.SHUT_WR)
        return s.recv(65536)


def test_garbage_body_gets_an_error_response(server, local):
    body = bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8))
    head = (f"POST /v2/models/ifan/infer HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    answer = _raw_http(server, head + body)
    assert answer.startswith(b"HTTP/1.1 500") and b'"error":"failed to parse the request JSON' in answer
    with socket.create_connection((HOST, server.grpc), timeout=30) as s:  # not even HTTP/2
        s.sendall(body)
    a = make_array(21, 19, 1, np.uint8, seed=8)
    assert_within_one(http_infer(server, a[None])[0], local(a))


def test_server_survives_a_client_that_hangs_up_mid_request(server, local):
    a = make_array(30, 30, 3, np.uint8, seed=9)
    header = json.dumps({"inputs": [{"name": "image", "shape": [1, 30, 30, 3], "datatype": "UINT8",
                                     "parameters": {"binary_data_size": a.size}}]})
    body = header.encode() + a.tobytes()
    head = (f"POST /v2/models/ifan/infer HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/octet-stream\r\n"
            f"Inference-Header-Content-Length: {len(header)}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    for _ in range(3):
        _raw_http(server, head + body[: len(body) // 2], read=False)  # half the body, then close
    _raw_http(server, head + body, read=False)  # a whole request whose answer nobody reads
    assert_within_one(http_infer(server, a[None])[0], local(a))


def test_deblur_with_server_writes_what_a_local_run_writes(server, checkpoint, tmp_path, capsys):
    import cv2

    from ifan_trt.cli import main

    src = tmp_path / "in"
    src.mkdir()
    write_test_image(src / "a.png", make_array(37, 29, 3, np.uint8, seed=1))
    write_test_image(src / "b.png", make_array(31, 45, 4, np.uint16, seed=2))
    write_test_image(src / "c.png", make_array(25, 33, 1, np.uint8, seed=3))
    # a float TIFF travels as 16-bit samples and comes back as float
    cv2.imwrite(str(src / "d.tif"), make_array(27, 35, 3, np.uint16, seed=4).astype(np.float32) / 65535)
    (src / "broken.png").write_bytes(b"\x89PNG not really")
    before = {p.name: p.read_bytes() for p in src.iterdir()}
    assert main(["deblur", str(src), "-o", str(tmp_path / "remote"), "--server", f"http://{HOST}:{server.http}",
                 "--concurrency", "3"]) == 1
    err = capsys.readouterr().err
    assert err.count("skipped") == 1 and "broken.png" in err and "1 of 5 inputs failed" in err
    (src / "broken.png").unlink()
    assert main(["deblur", str(src), "-o", str(tmp_path / "local"), "--checkpoint", str(checkpoint), *TILING]) == 0
    for name in ("a.png", "b.png", "c.png"):
        got = cv2.imread(str(tmp_path / "remote" / name), cv2.IMREAD_UNCHANGED)
        want = cv2.imread(str(tmp_path / "local" / name), cv2.IMREAD_UNCHANGED)
        assert_within_one(got, want)
    got, want = (cv2.imread(str(tmp_path / run / "d.tif"), cv2.IMREAD_UNCHANGED) for run in ("remote", "local"))
    assert got.dtype == want.dtype == np.float32 and np.abs(got - want).max() <= 2 / 65535
    assert not (tmp_path / "remote" / "broken.png").exists()
    assert {p.name: p.read_bytes() for p in src.iterdir() if p.name != "broken.png"} == \
        {k: v for k, v in before.items() if k != "broken.png"}
    assert not [p for p in (tmp_path / "remote").iterdir() if p.name.startswith(".")]  # no temp file left


def test_deblur_with_server_over_grpc_and_its_errors(server, tmp_path, capsys):
    from ifan_trt.cli import main

    image = write_test_image(tmp_path / "one.png", make_array(19, 23, 3, np.uint8, seed=4))
    grpc_url, http_url = f"grpc://{HOST}:{server.grpc}", f"http://{HOST}:{server.http}"
    assert main(["deblur", str(image), "-o", str(tmp_path / "out.png"), "--server", grpc_url]) == 0
    assert (tmp_path / "out.png").is_file()
    big = write_test_image(tmp_path / "big.png", make_array(400, 400, 3, np.uint8))
    assert main(["deblur", str(big), "-o", str(tmp_path / "big_out.png"), "--server", http_url]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"ifan deblur: error: {big}: the server refused it: image: 400x400 is 160000 pixels, "
                   f"above this server's budget of {BUDGET}"]
    assert not (tmp_path / "big_out.png").exists()
    assert main(["deblur", str(image), "-o", str(tmp_path / "x.png"), "--server", f"http://{HOST}:{server.http}",
                 "--checkpoint", "foo.pth"]) == 1
    assert "--checkpoint: the server runs its own model" in capsys.readouterr().err
    assert main(["deblur", str(image), "-o", str(tmp_path / "x.png"), "--server", http_url, "--backend", "torch",
                 "--tile", "64x64"]) == 1
    assert "--tile --backend: the server runs its own model and settings" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_sigterm_stops_the_server_cleanly(server):
    assert server.stop() == 0
    assert "ifan serve: stopped" in server.output()
    with pytest.raises(OSError):
        socket.create_connection((HOST, server.http), timeout=5).close()
