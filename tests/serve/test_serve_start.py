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
