"""--quiet prints only errors, and a failure's summary is one: `ifan check`'s verdict below the
threshold survives it, with exit status 1 and nothing else printed."""

from __future__ import annotations

import pytest

from ifan_trt.cli import main

pytest.importorskip("onnxruntime")


def test_quiet_keeps_the_check_failure(models, capsys):
    candidate = models("onnx")  # the small random model: far from the bundled FP32 graph
    code = main(["check", str(candidate), "--against", "default", "--limit", "1", "--size", "64x64", "--quiet"])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert err == f"ifan check: {candidate}: PSNR below 45 dB\n"
