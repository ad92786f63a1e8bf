"""One JSON envelope for every report: machine, versions and the command line around the results."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from ifan_trt import __version__
from ifan_trt.reports import command_line, envelope


def test_envelope_fields():
    doc = envelope({"rows": [1]}, command="ifan x --y")
    assert doc["command"] == "ifan x --y" and doc["rows"] == [1]
    assert doc["versions"]["ifan-trt"] == __version__ and "numpy" in doc["versions"]
    assert doc["machine"]["cores"] >= 1 and doc["machine"]["python"]
    assert command_line(["/venv/bin/ifan", "eval", "--data", "a b"]) == "ifan eval --data 'a b'"


def test_eval_and_verify_json(tmp_path):
    pytest.importorskip("onnxruntime")
    from ifan_trt.cli import main

    for sub, value in (("source", 100), ("target", 110)):
        (tmp_path / "d" / sub).mkdir(parents=True)
        cv2.imwrite(str(tmp_path / "d" / sub / "a.png"), np.full((24, 24, 3), value, np.uint8))
    assert main(["eval", "--data", str(tmp_path / "d"), "--onnx", "default", "--json", str(tmp_path / "e.json")]) == 0
    doc = json.loads((tmp_path / "e.json").read_text())
    assert doc["command"] == f"ifan eval --data {tmp_path / 'd'} --onnx default --json {tmp_path / 'e.json'}"
    assert doc["backend"] == "onnxruntime"
    assert doc["input"]["psnr"] == pytest.approx(10 * np.log10(1 / (10 / 255) ** 2), abs=1e-6)
    assert main(["check", "default", "--size", "16x16", "--json", str(tmp_path / "v.json")]) == 0
    doc = json.loads((tmp_path / "v.json").read_text())
    assert {"machine", "versions", "command", "checks"} <= set(doc) and doc["shape"] == [1, 16, 16]
