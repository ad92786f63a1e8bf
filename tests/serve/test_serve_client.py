"""The `ifan serve` client without a server: a server whose models are still loading is waited
for (bounded, said in one line), one that does not answer is an error at once."""

from __future__ import annotations

import time

import pytest

from ifan_trt.errors import IfanError
from ifan_trt.runtime.serving.serve_client import RemoteModel
from ifan_trt.runtime.serving.serve_protocol import MODELS


class LoadingServer:
    """tritonclient's InferenceServerClient as a server answers while its models load: each model
    becomes ready after `ready_after` readiness queries (None: never)."""

    def __init__(self, ready_after: int | None = 0, error: Exception | None = None):
        self.ready_after, self.error, self.asked = ready_after, error, {}

    def is_model_ready(self, name: str) -> bool:
        if self.error is not None:
            raise self.error
        self.asked[name] = self.asked.get(name, 0) + 1
        return self.ready_after is not None and self.asked[name] > self.ready_after


def _model(server: LoadingServer, wait_s: float = 60.0) -> RemoteModel:
    model = RemoteModel("http://127.0.0.1:8000", ready_wait_s=wait_s)
    model._local.client = (None, server)
    return model


def test_a_loading_model_is_waited_for_and_said_once():
    said = []
    server = LoadingServer(ready_after=3)
    _model(server).check_ready(say=said.append)
    assert said == [f"http://127.0.0.1:8000: waiting up to 60 s for the model {', '.join(MODELS.values())} to load"]
    assert all(n == 4 for n in server.asked.values())


def test_a_ready_server_is_not_waited_for():
    said = []
    _model(LoadingServer(ready_after=0)).check_ready(say=said.append)
    assert said == []


def test_the_wait_is_bounded():
    start = time.monotonic()
    with pytest.raises(IfanError) as err:
        _model(LoadingServer(ready_after=None), wait_s=0.5).check_ready(say=lambda text: None)
    assert 0.5 <= time.monotonic() - start < 3
    assert str(err.value).startswith(f"http://127.0.0.1:8000: the model {', '.join(MODELS.values())} is not ready "
                                     "after 0.5 s; ")


def test_no_server_is_an_error_at_once():
    start = time.monotonic()
    with pytest.raises(IfanError, match=r"no Triton server answers \(\[Errno 111\] Connection refused\); start one"):
        _model(LoadingServer(error=ConnectionRefusedError(111, "Connection refused"))).check_ready()
    assert time.monotonic() - start < 1
