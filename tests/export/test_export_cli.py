"""`ifan export` and `ifan check` (against the checkpoint) end to end on an official-format IFAN_dual checkpoint, and
their one-line errors for bad input."""

import numpy as np
import onnx
import pytest
import torch

from ifan_trt.checkpoint import sha256_file
from ifan_trt.cli import main
from ifan_trt.contract import PLUGIN_OP
from ifan_trt.export.graph import read_metadata

from tests.helpers.export import small_model


def write_official(model, path):
    torch.save({f"module.Network.{k}": v for k, v in model.state_dict().items()}, path)
    return path


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A dual official checkpoint exported once with a static size and --check."""
    folder = tmp_path_factory.mktemp("cli")
    ckpt = write_official(small_model(n_iters=2, dual=True, seed=4), folder / "dual.pth")
    out = folder / "dual.onnx"
    return ckpt, out, folder


def run(argv, capsys):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_export_static_size_with_check(exported, capsys):
    ckpt, out, _ = exported
    code, stdout, _ = run(["export", "--checkpoint", ckpt, "-o", out, "--static-size", "32x48", "--static-batch", "1",
                           "--opset", "18", "--check"], capsys)
    assert code == 0, stdout
    assert "IFAN_dual_2_ch8 (N=2, official IAC as plugin, compact filter layout), input 1x3x32x48, opset 18" in stdout
    assert "filter tensor F at 720x1280 (FP32, batch 1): 25.8 MB full -> 14.7 MB (-42.9%, pruned losslessly)" in stdout
    assert "onnx.checker full check OK" in stdout and ": PASS" in stdout
    proto = onnx.load(out)
    assert proto.opset_import[0].version == 18
    assert [i.name for i in proto.graph.input] == ["input", "left", "right"]
    for value in [*proto.graph.input, *proto.graph.output]:
        assert [d.dim_value for d in value.type.tensor_type.shape.dim] == [1, 3, 32, 48]
    assert sum(n.op_type == PLUGIN_OP for n in proto.graph.node) == 1
    meta = read_metadata(out)
    assert meta["ifan.checkpoint_sha256"] == sha256_file(ckpt)
    assert meta["ifan.dual"] == "true" and meta["ifan.variant"] == "IFAN_dual_2_ch8"


def test_check_reports_error_and_psnr(exported, capsys):
    ckpt, out, _ = exported
    code, stdout, _ = run(["check", out, "--against", ckpt], capsys)
    assert code == 0
    line = next(l for l in stdout.splitlines() if l.startswith("ONNX Runtime vs PyTorch at 1x3x32x48"))
    error = float(line.split("max abs error ")[1].split(",")[0])
    assert error <= 1e-4 and "PSNR" in line and line.endswith("PASS")
    code, stdout, _ = run(["check", out], capsys)
    assert code == 0 and "no reference compared" in stdout


def test_check_fails_a_wrong_graph(exported, capsys):
    """A graph whose plugin node has the wrong slope runs, but verification exits 1."""
    ckpt, out, folder = exported
    proto = onnx.load(out)
    node = next(n for n in proto.graph.node if n.op_type == PLUGIN_OP)
    next(a for a in node.attribute if a.name == "slope").f = 0.3
    onnx.save(proto, folder / "wrong.onnx")
    code, stdout, _ = run(["check", folder / "wrong.onnx", "--against", ckpt], capsys)
    assert code == 1 and stdout.rstrip().endswith("FAIL")


def test_check_refuses_another_checkpoint(exported, capsys):
    ckpt, out, folder = exported
    other = write_official(small_model(n_iters=2, dual=True, seed=5), folder / "other.pth")
    code, _, err = run(["check", out, "--against", other], capsys)
    assert code == 1 and "exported from a checkpoint with SHA-256" in err and "pass the same checkpoint" in err


def test_bad_inputs_give_one_line_errors(tmp_path, capsys):
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    out = tmp_path / "out.onnx"
    cases = [
        # the loader's wording is checkpoint.py's: here only that it names the file, on one line
        (["export", "--checkpoint", garbage, "-o", out], f"ifan export: error: {garbage}: not a"),
        (["export", "--checkpoint", tmp_path / "missing.pth", "-o", out], "missing.pth: checkpoint not found"),
        (["export", "--checkpoint", garbage, "-o", out, "--static-size", "30x40"],
         "--static-size 30x40: height and width must be multiples of 8"),
        (["check", tmp_path / "missing.onnx"], "missing.onnx: no such file (model)"),
        (["check", garbage], f"{garbage}: not a readable ONNX file"),
        (["check", garbage, "--against", garbage, "--images", tmp_path],
         "--images: for a check against an FP32 ONNX graph (--against MODEL.onnx)"),
    ]
    for argv, message in cases:
        code, _, err = run(argv, capsys)
        assert code == 1 and message in err, (argv, err)
        assert err.count("\n") == 1 and "Traceback" not in err
    code, _, err = run(["export", "--checkpoint", garbage, "-o", out, "--static-size", "big"], capsys)
    assert code == 2 and err == "ifan export: error: argument --static-size: 'big': expected HxW, e.g. 256x384\n"
    assert not out.exists()


def test_checkpoint_with_missing_weights_is_refused(tmp_path, capsys):
    state = {f"Network.{k}": v for k, v in small_model().state_dict().items() if not k.startswith("DME.")}
    torch.save(state, tmp_path / "partial.pth")
    code, _, err = run(["export", "--checkpoint", tmp_path / "partial.pth", "-o", tmp_path / "x.onnx"], capsys)
    assert code == 1 and "does not match IFAN_2_ch8: missing" in err and "DME.0.0.weight" in err
