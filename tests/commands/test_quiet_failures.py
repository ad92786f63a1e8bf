"""--quiet prints only errors, and a failure's summary is one: `ifan audit`'s verdict below the
threshold survives it, with exit status 1 and nothing else printed."""

from __future__ import annotations

import pytest

from ifan_trt.cli import main

pytest.importorskip("onnxruntime")


def test_quiet_keeps_the_audit_failure(models, capsys):
    candidate = models("onnx")  # the small random model: far from the bundled FP32 graph
    code = main(["audit", "--fp32", "default", "--candidate", str(candidate), "--count", "1", "--size", "64x64",
                 "--quiet"])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert err == f"ifan audit: {candidate}: PSNR below 45 dB\n"
