"""The one error boundary: expected failures of any kind (memory, backend, OpenCV, missing extras)
are one line, in a folder run they skip only their file; a bug is one line saying so, with the
traceback only under --debug."""

from __future__ import annotations

import pytest

from tests.robustness import hostile as h
from tests.robustness.hostile import check_invariants, error_line, read_back

pytest.importorskip("torch")
pytestmark = pytest.mark.timeout(120)


def _fail_on(size_w: int, exc: BaseException):
    """A deblur_images that raises exc for images of width size_w and runs the rest."""
    from ifan_trt.runtime.images import pipeline

    real = pipeline.deblur_images

    def fake(executor, images, *args, **kwargs):
        if images[0].size[1] == size_w:
            raise exc
        return real(executor, images, *args, **kwargs)
    return fake


def _folder(sandbox):
    h.image(sandbox.path("in/a.png"), 16, 16)
    h.image(sandbox.path("in/b.png"), 16, 24)


def _ort_error():
    kind = type("Fail", (Exception,), {"__module__": "onnxruntime.capi.onnxruntime_pybind11_state"})
    return kind("[ONNXRuntimeError] : 1 : FAIL : bad allocation of 3 GB")


def _cv2_error():
    import cv2

    return cv2.error("OpenCV(5.0.0) resize.cpp: error: (-215:Assertion failed) !ssize.empty()")


def _cuda_error():
    from ifan_trt.runtime.tensorrt.cuda import CudaError

    return CudaError("cuMemAlloc failed: CUDA_ERROR_OUT_OF_MEMORY")


@pytest.mark.parametrize("make,says", [
    (lambda: MemoryError(), "out of memory at 16x24"),
    (lambda: RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 9 GB"), "out of memory"),
    (_ort_error, "backend error: [ONNXRuntimeError]"),
    (_cv2_error, "OpenCV error"),
    (_cuda_error, "CUDA_ERROR_OUT_OF_MEMORY"),
    (lambda: OSError(28, "No space left on device"), "No space left on device"),
], ids=["memory", "torch-allocator", "onnxruntime", "opencv", "cuda", "disk-full"])
def test_expected_failure_in_a_folder_skips_only_that_file(sandbox, monkeypatch, make, says):
    from ifan_trt.runtime.images import pipeline

    _folder(sandbox)
    monkeypatch.setattr(pipeline, "deblur_images", _fail_on(24, make()))
    result = sandbox.run("deblur", "in", "-o", "out", "--checkpoint", sandbox.ck)
    assert result.code == 1
    assert result.err_lines[0].startswith("ifan deblur: skipped in/b.png: ") and says in result.err_lines[0], \
        result.err_lines
    assert result.err_lines[1:] == ["ifan deblur: 1 of 2 inputs failed"]
    assert "ifan deblur: ck.pth on torch fp32" in result.err.splitlines()  # what ran, said once
    read_back(sandbox.root / "out/a.png")
    check_invariants(result, sandbox.root, {"out/a.png"})


def test_memory_error_on_one_file_names_file_size_and_option(sandbox, monkeypatch):
    from ifan_trt.runtime.images import pipeline

    h.image(sandbox.path("in.png"), 16, 24)
    monkeypatch.setattr(pipeline, "deblur_images", _fail_on(24, MemoryError()))
    result = sandbox.run("deblur", "in.png", "-o", "out.png", "--checkpoint", sandbox.ck)
    error_line(result, "deblur", "in.png", "16x24", "--max-pixels", "--tile")
    check_invariants(result, sandbox.root)


def test_a_bug_is_one_line_and_debug_shows_the_traceback(sandbox, monkeypatch):
    from ifan_trt.commands import synth

    def broken(args):
        return {}["missing"]

    monkeypatch.setattr(synth, "run", broken)
    result = sandbox.run("synth", "-o", "set")
    error_line(result, "synth", "internal error (KeyError", "--debug")
    check_invariants(result, sandbox.root)
    result = sandbox.run("synth", "-o", "set", "--debug")
    assert result.code == 1 and "Traceback" in result.err and "internal error" in result.err_lines[-1]


def test_a_bug_in_a_folder_run_is_not_hidden_as_a_skipped_file(sandbox, monkeypatch):
    from ifan_trt.runtime.images import pipeline

    _folder(sandbox)
    monkeypatch.setattr(pipeline, "deblur_images", _fail_on(24, TypeError("unsupported operand")))
    result = sandbox.run("deblur", "in", "-o", "out", "--checkpoint", sandbox.ck)
    error_line(result, "deblur", "internal error (TypeError: unsupported operand)")


def test_missing_extra_is_one_line(sandbox, monkeypatch):
    from ifan_trt.commands import synth

    def needs(args):
        raise ModuleNotFoundError("No module named 'skimage'", name="skimage")

    monkeypatch.setattr(synth, "run", needs)
    error_line(sandbox.run("synth", "-o", "set"), "synth", "'skimage'", "not installed")


def test_ctrl_c_in_process_removes_temps(sandbox, monkeypatch):
    from ifan_trt import files
    from ifan_trt.commands import synth

    def interrupted(args):
        with files.atomic_write("half.png") as fh:
            fh.write(b"partial")
            raise KeyboardInterrupt

    monkeypatch.setattr(synth, "run", interrupted)
    result = sandbox.run("synth", "-o", "set")
    assert result.code == 130 and result.err_lines == ["ifan synth: interrupted"]
    check_invariants(result, sandbox.root)


def test_quiet_prints_only_errors(sandbox):
    h.image(sandbox.path("in.png"))
    result = sandbox.run("deblur", "in.png", "-o", "out.png", "--checkpoint", sandbox.ck, "--quiet")
    assert result.code == 0 and result.out == "" and result.err == ""
    result = sandbox.run("deblur", "in.png", "-o", "out2.png", "--checkpoint", sandbox.ck)
    assert result.out.strip() == "wrote out2.png"


def test_quiet_keeps_error_and_skip_lines_only(sandbox):
    h.image(sandbox.path("in/a.png"))
    sandbox.path("in/b.png").write_bytes(b"junk")
    result = sandbox.run("deblur", "in", "-o", "out", "--checkpoint", sandbox.ck, "--quiet")
    assert result.code == 1 and result.out == ""
    # the failure count is an error-level fact: --quiet keeps it, as the skip line
    assert result.err == ("ifan deblur: skipped in/b.png: not a readable image (unknown format or corrupt data)\n"
                          "ifan deblur: 1 of 2 inputs failed\n")
