"""One grammar for every command: `--json -` writes the report to standard output, a closed pipe
ends the command quietly, a library warning reads `ifan CMD: warning: ...`."""

from __future__ import annotations

import json
import sys

import pytest

from ifan_trt.cli import main

pytest.importorskip("onnx")


def test_json_dash_is_standard_output(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["inspect", "default", "--json", "-"]) == 0
    out = capsys.readouterr().out
    report = json.loads(out)  # nothing but the report
    assert report["kind"] == "onnx" and report["precision"] == "fp32"
    assert {"machine", "versions", "command"} <= set(report) and report["command"] == "ifan inspect default --json -"
    assert not (tmp_path / "-").exists()


def test_a_closed_pipe_ends_quietly(capsys, monkeypatch):
    class ClosedPipe:  # the reader of `ifan inspect default | head -1` has left
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            pass

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["inspect", "default"]) == 141  # 128 + SIGPIPE, as `yes | head` ends
    assert capsys.readouterr().err == ""
