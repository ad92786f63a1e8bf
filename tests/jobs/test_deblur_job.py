"""The deblur job: one failed-input policy for a local run and a run through a server (the same
skipped inputs, the same `N of M inputs failed` at error level, the same status), messages that name
the request's fields, and nothing printed."""

from __future__ import annotations

import logging
import re

import cv2
import numpy as np
import pytest

from ifan_trt.errors import IfanError
from ifan_trt.jobs.deblur import DeblurRequest, deblur
from ifan_trt.jobs.requests import RunModel
from ifan_trt.runtime.serving import serve_client

JUNK = "not a readable image (unknown format or corrupt data)"


@pytest.fixture
def folder(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(0)
    cv2.imwrite(str(src / "a.png"), rng.integers(0, 255, (16, 24, 3), np.uint8))
    (src / "b.png").write_bytes(b"junk")
    return src


class FakeServer:
    """A server that answers each image unchanged (RemoteModel's interface)."""

    def __init__(self, url, **kwargs):
        self.url = url

    def check_ready(self):
        pass

    def deblur(self, image):
        return image


def _records(caplog):
    return [(r.levelname, getattr(r, "verdict", None), r.getMessage()) for r in caplog.records
            if r.name.startswith("ifan.jobs")]


@pytest.mark.parametrize("where", ["local", "server"])
def test_local_and_remote_runs_share_one_failed_input_policy(where, folder, tmp_path, small_checkpoint, monkeypatch,
                                                             caplog, capsys):
    monkeypatch.setattr(serve_client, "RemoteModel", FakeServer)
    out = tmp_path / where
    request = DeblurRequest((str(folder),), out, **({"model": RunModel(checkpoint=small_checkpoint)} if where == "local"
                                                    else {"server": "http://127.0.0.1:8000"}))
    with caplog.at_level(logging.INFO, logger="ifan"):
        result = deblur(request)
    assert result.status == 1 and result.total == 2
    assert result.failed == ((folder / "b.png", f"{folder / 'b.png'}: {JUNK}"),)
    assert result.written == (out / "a.png",) and (out / "a.png").is_file() and not (out / "b.png").exists()
    assert _records(caplog) == [("ERROR", "skipped", f"{folder / 'b.png'}: {JUNK}"),
                                ("ERROR", "summary", "1 of 2 inputs failed")]
    assert capsys.readouterr() == ("", "")  # the library never prints


def test_a_single_failed_input_is_the_jobs_error(folder, tmp_path, monkeypatch):
    monkeypatch.setattr(serve_client, "RemoteModel", FakeServer)
    with pytest.raises(IfanError, match=re.escape(f"{folder / 'b.png'}: {JUNK}")):
        deblur(DeblurRequest((str(folder / "b.png"),), tmp_path / "o.png", server="http://127.0.0.1:8000"))


def test_a_bug_in_a_remote_run_is_not_a_skipped_input(folder, tmp_path, monkeypatch):
    class Broken(FakeServer):
        def deblur(self, image):
            raise ValueError("a bug")

    monkeypatch.setattr(serve_client, "RemoteModel", Broken)
    with pytest.raises(ValueError, match="a bug"):
        deblur(DeblurRequest((str(folder),), tmp_path / "out", server="http://127.0.0.1:8000"))


def test_messages_name_the_request_fields(folder, tmp_path):
    with pytest.raises(IfanError, match=r"^checkpoint tile: the server runs its own model and settings; drop them "
                                        r"with server$"):
        deblur(DeblurRequest((str(folder),), tmp_path / "out", RunModel(checkpoint="x.pth"), tile=(64, 64),
                             server="http://127.0.0.1:8000"))
    with pytest.raises(IfanError, match=r"^output: needed for several inputs"):
        deblur(DeblurRequest((str(folder),)))
    with pytest.raises(IfanError, match=r"^plugin: applies to TensorRT engines only \(engine\)$"):
        deblur(DeblurRequest((str(folder),), tmp_path / "out", RunModel(plugin="lib.so")))
    assert not (tmp_path / "out").exists()
