"""How `ifan serve` starts Triton, with a fake PyTriton server: a model load that fails because a
later instance could not reach the first one's handshake socket is retried on a fresh server; any
other failure is one error line."""

from __future__ import annotations

import pytest

utils = pytest.importorskip("tritonclient.utils", reason="tritonclient not installed (the dev extra)")

from ifan_trt.errors import IfanError  # noqa: E402
from ifan_trt.runtime.serving import serve  # noqa: E402


class FakeTriton:
    def __init__(self, error):
        self.error, self.stopped = error, False

    def run(self):
        if self.error:
            raise utils.InferenceServerException(self.error)

    def stop(self):
        self.stopped = True


def _fake_servers(monkeypatch, errors):
    made = []

    def make(options, folder):
        made.append(FakeTriton(errors[len(made)]))
        return made[-1]

    monkeypatch.setattr(serve, "_triton", make)
    monkeypatch.setattr(serve, "_bind", lambda triton, handlers, options: None)
    return made


def test_a_failed_instance_handshake_is_retried(monkeypatch, tmp_path):
    refused = "load failed for model 'ifan': Model initialize error: ConnectionRefusedError: [Errno 111]"
    made = _fake_servers(monkeypatch, [refused, refused, None])
    assert serve._start([], serve.ServeOptions(), tmp_path) is made[2]
    assert [t.stopped for t in made] == [True, True, False]


def test_a_start_that_keeps_failing_is_one_error_line(monkeypatch, tmp_path):
    made = _fake_servers(monkeypatch, ["load failed for model 'ifan': bad\nmore"] * 3)
    with pytest.raises(IfanError, match=r"^Triton could not load the model \(load failed for model 'ifan': bad\); "
                                         r"--verbose shows its log$"):
        serve._start([], serve.ServeOptions(), tmp_path)
    assert len(made) == 3 and all(t.stopped for t in made)


def test_other_failures_are_not_retried(monkeypatch, tmp_path):
    made = _fake_servers(monkeypatch, ["unexpected shape", None])
    with pytest.raises(IfanError, match="unexpected shape"):
        serve._start([], serve.ServeOptions(), tmp_path)
    assert len(made) == 1


class ServingTriton(FakeTriton):
    """A started server: serve() returns at once (as on SIGTERM)."""

    def __init__(self):
        super().__init__(None)

    def is_alive(self):
        return True

    def serve(self):
        pass


def _started(monkeypatch):
    import signal
    import sys
    import types

    monkeypatch.setitem(sys.modules, "pytriton", types.ModuleType("pytriton"))
    monkeypatch.setattr(serve, "_triton", lambda options, folder: ServingTriton())
    monkeypatch.setattr(serve, "_bind", lambda triton, handlers, options: None)
    monkeypatch.setattr(serve, "wait_models_ready", lambda *args, **kwargs: None)
    monkeypatch.setattr(serve, "use_own_libpython", lambda: None)
    monkeypatch.setattr(serve, "_stop_on_sigterm", lambda: None)
    monkeypatch.setattr(signal, "signal", lambda *args: None)


def _ports():
    import socket

    sockets = [socket.socket() for _ in range(3)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_the_server_says_where_it_serves_through_a_callback_and_the_command_prints_it(monkeypatch, models, capsys,
                                                                                       caplog):
    import logging

    from ifan_trt.cli import main
    from ifan_trt.jobs.requests import RunModel
    from ifan_trt.jobs.serve import ServeRequest, serve as serve_job

    _started(monkeypatch)
    onnx = str(models("onnx"))
    http, grpc, metrics = _ports()
    seen = []
    request = ServeRequest(RunModel(onnx=onnx), http_port=http, grpc_port=grpc, metrics_port=metrics)
    serve_job(request, on_ready=seen.append)
    (serving,) = seen
    assert serving.addresses == (f"http://127.0.0.1:{http} grpc://127.0.0.1:{grpc} "
                                 f"metrics http://127.0.0.1:{metrics}/metrics")
    assert serving.models == ("ifan", "ifan_uint16") and serving.model == onnx and serving.instances == 1
    with caplog.at_level(logging.INFO, logger="ifan"):
        serve_job(request)  # no callback: the logger says it
    assert [r.getMessage() for r in caplog.records if r.name == "ifan.runtime.serving.serve"] == [f"serving {serving.line()}"]
    assert capsys.readouterr() == ("", "")  # the library never prints
    assert main(["serve", "--onnx", onnx, "--http-port", str(http), "--grpc-port", str(grpc),
                 "--metrics-port", str(metrics)]) == 0
    assert capsys.readouterr().out.splitlines() == [f"ifan serve: {serving.line()}", "ifan serve: stopped"]
