"""Every numeric option of every command is range-checked at parse time: one usage line naming the
option, exit 2, nothing written, before any model or file is opened."""

from __future__ import annotations

import pytest

from tests.helpers.cli import COMMAND_LINES as BASE
from tests.robustness.hostile import check_invariants, error_line

pytestmark = pytest.mark.timeout(60)

# (command, option, bad value); each command with its required arguments: COMMAND_LINES
BAD = [
    ("deblur", "--threads", "-1"), ("deblur", "--threads", "0"), ("deblur", "--threads", "many"),
    ("deblur", "--batch", "0"), ("deblur", "--batch", "-3"), ("deblur", "--batch", "1.5"),
    ("deblur", "--max-pixels", "0"), ("deblur", "--max-pixels", "-5"), ("deblur", "--overlap", "-1"),
    ("deblur", "--max-decode-pixels", "0"), ("deblur", "--max-decode-pixels", "-1"), ("deblur", "--in-bit", "12"),
    ("train", "--ch", "0"), ("train", "--ch", "100000"), ("train", "--n-iters", "0"), ("train", "--patch", "0"),
    ("train", "--batch", "0"), ("train", "--lr", "nan"), ("train", "--lr", "-1"), ("train", "--lr", "inf"),
    ("train", "--max-radius", "-5"), ("train", "--jpeg-prob", "2"), ("train", "--jpeg-prob", "-0.1"),
    ("train", "--threads", "-1"), ("train", "--steps", "0"), ("train", "--budget-min", "0"),
    ("train", "--ckpt-every-min", "nan"), ("train", "--log-every", "0"), ("train", "--val-count", "0"),
    ("train", "--crops-per-scene", "0"), ("train", "--seed", "-1"),
    ("eval", "--limit", "0"), ("eval", "--limit", "-1"), ("eval", "--threads", "0"),
    ("eval", "--max-decode-pixels", "0"),
    ("export", "--opset", "99"), ("export", "--opset", "5"), ("export", "--batch", "0"), ("export", "--batch", "-2"),
    ("profile", "--iterations", "0"), ("profile", "--warmup", "-1"), ("profile", "--duration", "0"),
    ("profile", "--duration", "nan"), ("profile", "--threads", "-2"),
    ("synth", "--count", "0"), ("synth", "--count", "-1"), ("synth", "--jpeg-prob", "2"),
    ("synth", "--max-radius", "-5"), ("synth", "--seed", "-1"), ("synth", "--size", "0x0"),
    ("synth", "--size", "100000x100000"),
    ("fp16", "--calib-count", "0"), ("fp16", "--max-rel-error", "-1"), ("fp16", "--max-rel-error", "nan"),
    ("calibrate", "--calib-count", "0"), ("calibrate", "--calib-count", "-4"),
    ("audit", "--count", "0"), ("audit", "--min-psnr", "nan"),
    ("build", "--calib-count", "0"), ("build", "--builder-optimization-level", "9"),
    ("demo", "--max-frames", "0"), ("demo", "--width", "0"), ("demo", "--fps", "0"), ("demo", "--threads", "0"),
    ("deblur", "--concurrency", "0"), ("verify", "--batch", "0"), ("verify", "--tol", "nan"),
    ("serve", "--http-port", "0"), ("serve", "--grpc-port", "70000"), ("serve", "--instances", "0"),
    ("serve", "--max-batch", "0"), ("serve", "--max-queue-delay-us", "-1"), ("serve", "--max-image-pixels", "0"),
    ("triton-repo", "--max-batch", "0"), ("triton-repo", "--instances", "0"),
    ("benchmark", "--threads", "0"), ("benchmark", "--warmup", "-1"), ("benchmark", "--iterations", "0"),
    ("benchmark", "--limit", "0"), ("benchmark", "--calib-count", "0"),
]


@pytest.mark.parametrize("command,option,value", BAD, ids=[f"{c}{o}={v}" for c, o, v in BAD])
def test_bad_numeric_option_is_one_usage_line(sandbox, command, option, value):
    result = sandbox.run(*BASE[command], option, value)
    line = error_line(result, command, f"argument {option}", code=2)
    assert "usage:" not in result.err and line.count(": error: ") == 1
    check_invariants(result, sandbox.root)


@pytest.mark.parametrize("argv,fragment", [
    (["bogus"], "invalid choice"),
    (["deblur"], "INPUT"),
    (["deblur", "in.png", "-o", "x.png", "--no-such-flag"], "--no-such-flag"),
])
def test_usage_errors_are_one_line(sandbox, argv, fragment):
    result = sandbox.run(*argv)
    command = argv[0] if argv[0] != "bogus" else ""
    error_line(result, command, fragment, code=2)
    check_invariants(result, sandbox.root)


def test_options_for_checkpoints_only_are_refused_with_onnx(sandbox):
    from tests.robustness.hostile import GOOD_META, image, onnx_with_metadata

    pytest.importorskip("onnx")
    image(sandbox.path("in.png"))
    onnx_with_metadata(sandbox.path("m.onnx"), GOOD_META)
    for flag, value in (("--in-bit", "16"), ("--iac-mode", "corrected")):
        result = sandbox.run("deblur", "in.png", "-o", "out.png", "--onnx", "m.onnx", flag, value)
        error_line(result, "deblur", flag, "checkpoints only")
        check_invariants(result, sandbox.root)


def test_dual_views_with_a_single_view_model_are_refused(sandbox):
    from tests.robustness.hostile import image

    for name in ("in.png", "l.png", "r.png"):
        image(sandbox.path(name))
    result = sandbox.run("deblur", "in.png", "-o", "out.png", "--checkpoint", sandbox.ck, "--left", "l.png",
                         "--right", "r.png")
    error_line(result, "deblur", "--left/--right", "not a dual-pixel model")
    check_invariants(result, sandbox.root)


def test_plugin_without_an_engine_is_refused(sandbox):
    from tests.robustness.hostile import GOOD_META, image, onnx_with_metadata

    pytest.importorskip("onnx")
    image(sandbox.path("in.png"))
    onnx_with_metadata(sandbox.path("m.onnx"), GOOD_META)
    sandbox.path("lib.so").write_bytes(b"x")
    result = sandbox.run("deblur", "in.png", "-o", "out.png", "--onnx", "m.onnx", "--plugin", "lib.so")
    error_line(result, "deblur", "--plugin", "engines only")
    check_invariants(result, sandbox.root)


def test_train_eval_data_is_checked_before_training(sandbox):
    result = sandbox.run("train", "--out", "m.pth", "--eval-data", "nope")
    error_line(result, "train", "eval_data nope", "no such folder")
    check_invariants(result, sandbox.root)
