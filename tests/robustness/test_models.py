"""Model files the tool loads never run code and never crash it: pickles with a payload, malformed
checkpoints (ours and the official layout), ONNX metadata, engine sidecars and calibration caches
are type- and range-checked before use, each refused in one line naming the file."""

from __future__ import annotations

import json

import numpy as np

import pytest

from tests.robustness import hostile as h
from tests.robustness.hostile import DROP, Payload, check_invariants, error_line

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.timeout(120)


def _model():
    from tests.helpers.models import random_model

    return random_model()


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def _official(model, **replace):
    state = {"module.Network." + k: v for k, v in _state(model).items()}
    state.update({"module.Network." + k: v for k, v in replace.items()})
    return state


def _zip_of_text(path):
    import zipfile

    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", "not a pickle")
    return path


# name -> (writer(path, marker) , what the message must say)
CHECKPOINTS = {
    "payload_in_torch_zip": (lambda p, m: h.torch_file(p, {"state_dict": Payload(m)}), "pickled code"),
    "payload_raw_pickle": (lambda p, m: h.raw_pickle(p, Payload(m)), "pickled code"),
    "payload_in_config": (lambda p, m: h.torch_file(p, h.ours(_model(), config=Payload(m))), "pickled code"),
    "empty_file": (lambda p, m: p.write_bytes(b""), "not a readable PyTorch checkpoint"),
    "random_bytes": (lambda p, m: p.write_bytes(bytes(range(256)) * 8), "PyTorch"),
    "four_bytes": (lambda p, m: p.write_bytes(b"junk"), "not a readable PyTorch checkpoint"),
    "zip_of_text": (lambda p, m: _zip_of_text(p), "PyTorch"),
    "truncated_zip": (lambda p, m: p.write_bytes(h.torch_file(p, h.ours(_model())).read_bytes()[:700]),
                      "not a readable PyTorch checkpoint"),
    "a_list": (lambda p, m: h.torch_file(p, [1, 2, 3]), "not an IFAN checkpoint"),
    "a_tensor": (lambda p, m: h.torch_file(p, torch.zeros(3)), "not an IFAN checkpoint"),
    "version_text": (lambda p, m: h.torch_file(p, h.ours(_model(), format_version="1")), "format_version"),
    "version_newer": (lambda p, m: h.torch_file(p, h.ours(_model(), format_version=99)), "newer ifan-trt"),
    "version_negative": (lambda p, m: h.torch_file(p, h.ours(_model(), format_version=-1)), "format_version"),
    "config_list": (lambda p, m: h.torch_file(p, h.ours(_model(), config=[1, 2])), "config"),
    "config_ch_zero": (lambda p, m: h.torch_file(p, h.ours(_model(), config={"ch": 0, "n_iters": 2})), "ch=0"),
    "config_ch_huge": (lambda p, m: h.torch_file(p, h.ours(_model(), config={"ch": 100000, "n_iters": 2})),
                       "ch=100000"),
    "config_all_large": (lambda p, m: h.torch_file(p, h.ours(_model(), config={"ch": 128, "n_iters": 64, "ks": 7})),
                         "M parameters"),
    "config_ks_huge": (lambda p, m: h.torch_file(p, h.ours(_model(), config={"ch": 8, "ks": 999})), "ks=999"),
    "config_ks_even": (lambda p, m: h.torch_file(p, h.ours(_model(), config={"ch": 8, "ks": 4})), "ks=4"),
    "config_ch_text": (lambda p, m: h.torch_file(p, h.ours(_model(), config={"ch": "8"})), "ch='8'"),
    "config_ch_bool": (lambda p, m: h.torch_file(p, h.ours(_model(), config={"ch": True})), "ch=True"),
    "config_iters_zero": (lambda p, m: h.torch_file(p, h.ours(_model(), config={"ch": 8, "n_iters": 0})),
                          "n_iters=0"),
    "config_in_bit": (lambda p, m: h.torch_file(p, h.ours(_model(), config={"ch": 8, "in_bit": 12})), "in_bit"),
    "config_mode": (lambda p, m: h.torch_file(p, h.ours(_model(), config={"ch": 8, "iac_mode": "x"})), "iac_mode"),
    "config_dual_text": (lambda p, m: h.torch_file(p, h.ours(_model(), config={"ch": 8, "dual": "yes"})), "dual"),
    "state_missing": (lambda p, m: h.torch_file(p, h.ours(_model(), state_dict=DROP)), "state_dict is missing"),
    "state_list": (lambda p, m: h.torch_file(p, h.ours(_model(), state_dict=[1, 2])), "state_dict is a list"),
    "state_int_keys": (lambda p, m: h.torch_file(p, h.ours(_model(), state_dict={1: torch.zeros(1)})),
                       "is not a name"),
    "state_wrong_shapes": (lambda p, m: h.torch_file(p, h.ours(_model(), config={"ch": 16, "n_iters": 2})),
                           "does not match"),
    "meta_list": (lambda p, m: h.torch_file(p, h.ours(_model(), meta=[1])), "meta"),
    "official_int_keys": (lambda p, m: h.torch_file(p, {5: torch.zeros(3)}), "is not a name"),
    "official_empty": (lambda p, m: h.torch_file(p, {}), "not an IFAN checkpoint"),
    "official_zero_channels": (lambda p, m: h.torch_file(p, _official(_model(), **{
        "conv1_1.0.weight": torch.zeros(0, 3, 3, 3)})), "0 channels"),
    "official_1d_weight": (lambda p, m: h.torch_file(p, _official(_model(), **{
        "conv1_1.0.weight": torch.zeros(8)})), "not 4-D"),
    "official_huge_width": (lambda p, m: h.torch_file(p, _official(_model(), **{
        "conv1_1.0.weight": torch.zeros(50000, 3, 1, 1)})), "50000 channels"),
    "official_bad_kin": (lambda p, m: h.torch_file(p, _official(_model(), **{
        "kconv1_1.0.weight": torch.zeros(8, 5, 3, 3)})), "5 input channels"),
}


@pytest.mark.parametrize("name", sorted(CHECKPOINTS))
def test_malformed_checkpoint_is_one_line(sandbox, name):
    write, says = CHECKPOINTS[name]
    h.image(sandbox.path("in.png"))
    write(sandbox.path("bad.pth"), sandbox.root / h.MARKER)
    result = sandbox.run("deblur", "in.png", "-o", "out.png", "--checkpoint", "bad.pth")
    error_line(result, "deblur", "bad.pth", says)
    check_invariants(result, sandbox.root)


@pytest.mark.parametrize("command", ["export", "train-init", "eval"])
def test_pickle_payload_never_runs_in_any_loader(sandbox, command):
    h.torch_file(sandbox.path("bad.pth"), {"state_dict": Payload(sandbox.root / h.MARKER)})
    argv = {"export": ["export", "--checkpoint", "bad.pth", "-o", "m.onnx"],
            "train-init": ["train", "-o", "new.pth", "--init", "bad.pth", "--ch", "8", "--n-iters", "2"],
            "eval": ["eval", "--data", "set", "--checkpoint", "bad.pth"]}[command]
    if command == "eval":
        h.image(sandbox.path("set/source/a.png"))
        h.image(sandbox.path("set/target/a.png"))
    result = sandbox.run(*argv)
    error_line(result, argv[0], "bad.pth")
    check_invariants(result, sandbox.root)


@pytest.mark.parametrize("state", ["payload", "list", "missing_step", "text_step", "negative_step"])
def test_training_state_loads_without_code_and_is_checked(sandbox, state):
    """--resume reads OUT.state.pt with weights_only=True; its fields are type-checked."""
    from ifan_trt.checkpoint import save_checkpoint
    from ifan_trt.model import IFAN, IFANConfig

    save_checkpoint(IFAN(IFANConfig(ch=8, n_iters=2)), sandbox.path("m.pth"))
    good = {"model": {}, "optimizer": {}, "step": 3, "elapsed": 1.0, "history": []}
    content = {"payload": {**good, "history": [Payload(sandbox.root / h.MARKER)]}, "list": [good],
               "missing_step": {k: v for k, v in good.items() if k != "step"}, "text_step": {**good, "step": "3"},
               "negative_step": {**good, "step": -1}}[state]
    h.torch_file(sandbox.path("m.pth.state.pt"), content)
    result = sandbox.run("train", "-o", "m.pth", "--resume", "--ch", "8", "--n-iters", "2", "--steps", "1")
    error_line(result, "train", "m.pth.state.pt")
    check_invariants(result, sandbox.root)


def test_training_state_written_by_train_loads_with_weights_only(sandbox):
    """The state train writes holds only plain containers and tensors."""
    result = sandbox.run("train", "-o", "m.pth", "--ch", "8", "--n-iters", "2", "--steps", "1", "--patch", "16",
                         "--batch", "1", "--scene", "0", "--val-count", "1", "--threads", "1")
    assert result.code == 0, result.err
    state = torch.load(sandbox.root / "m.pth.state.pt", weights_only=True)
    assert state["step"] == 1 and isinstance(state["optimizer"], dict)
    check_invariants(result, sandbox.root, {"m.pth", "m.pth.state.pt"})


ONNX_META = {
    "size_multiple_zero": ({"ifan.size_multiple": "0"}, "size_multiple 0"),
    "size_multiple_text": ({"ifan.size_multiple": "eight"}, "size_multiple"),
    "n_iters_negative": ({"ifan.n_iters": "-3"}, "n_iters -3"),
    "in_bit_twelve": ({"ifan.in_bit": "12"}, "in_bit"),
    "mode_unknown": ({"ifan.iac_mode": "magic"}, "iac_mode"),
    "no_variant": ({"ifan.variant": None}, "no ifan.variant"),
}


@pytest.mark.parametrize("name", sorted(ONNX_META))
def test_onnx_metadata_is_validated(sandbox, name):
    pytest.importorskip("onnxruntime")
    change, says = ONNX_META[name]
    meta = {k: v for k, v in {**h.GOOD_META, **change}.items() if v is not None}
    h.onnx_with_metadata(sandbox.path("m.onnx"), meta)
    h.image(sandbox.path("in.png"))
    result = sandbox.run("deblur", "in.png", "-o", "out.png", "--onnx", "m.onnx")
    error_line(result, "deblur", "m.onnx", says)
    check_invariants(result, sandbox.root)


@pytest.mark.parametrize("content", ["garbage", "truncated"])
def test_unreadable_onnx_is_one_line(sandbox, content):
    pytest.importorskip("onnxruntime")
    path = sandbox.path("m.onnx")
    if content == "garbage":
        path.write_bytes(b"\x08\x07not a protobuf" * 50)
    else:
        h.onnx_with_metadata(path, h.GOOD_META)
        path.write_bytes(path.read_bytes()[:40])
    h.image(sandbox.path("in.png"))
    result = sandbox.run("deblur", "in.png", "-o", "out.png", "--onnx", "m.onnx")
    error_line(result, "deblur", "m.onnx")
    check_invariants(result, sandbox.root)


@pytest.mark.parametrize("sidecar", ['{"onnx": {"path": 5}}', '{"onnx": [1, 2]}', "[1, 2]", "{not json",
                                     '{"onnx": {"path": {"a": 1}, "source": null}}'])
def test_engine_sidecar_fields_are_type_checked(sandbox, sidecar):
    """Without a GPU, --engine falls back to the ONNX its sidecar records: a malformed record is
    never used as a path (and the ONNX beside the engine still is)."""
    pytest.importorskip("onnxruntime")
    sandbox.path("m.engine").write_bytes(b"plan")
    sandbox.path("m.engine.json").write_text(sidecar)
    h.image(sandbox.path("in.png"))
    result = sandbox.run("deblur", "in.png", "-o", "out.png", "--engine", "m.engine", "--backend", "onnxruntime")
    error_line(result, "deblur", "--onnx")
    check_invariants(result, sandbox.root)


def _sidecar(**meta) -> str:
    from ifan_trt.runtime.model_files.sidecar import Sidecar

    shape = [1, 3, 16, 16]
    data = Sidecar(engine="m.engine", precision="fp16", profiles=[{"input": dict(min=shape, opt=shape, max=shape)}],
                        inputs=["input"], metadata={**h.GOOD_META, **meta}, tensorrt_version="10.3.0").as_dict()
    return json.dumps(data)


@pytest.mark.parametrize("content,says", [
    (lambda: _sidecar(**{"ifan.size_multiple": "0"}), "size_multiple 0"),
    (lambda: _sidecar(**{"ifan.n_iters": "many"}), "n_iters"),
    (lambda: "[" * 100000, "not a readable JSON sidecar"),
    (lambda: None, "only regular files"),
])
def test_engine_sidecar_is_validated(sandbox, content, says):
    from ifan_trt.errors import IfanError
    from ifan_trt.runtime.model_files.metadata import info_from_sidecar

    text = content()
    if text is None:
        h.fifo(sandbox.path("m.engine.json"))
    else:
        sandbox.path("m.engine.json").write_text(text)
    with pytest.raises(IfanError, match=says):
        info_from_sidecar(sandbox.root / "m.engine")


@pytest.mark.parametrize("cache", ["[]", '{"format": "x"}', "{bad", '{"format": "ifan-trt calibration cache 1", '
                                                                   '"entries": {"k": [1]}}'])
def test_calibration_cache_is_type_checked(sandbox, cache):
    from ifan_trt.calib.int8 import CACHE_FORMAT, read_cache
    from ifan_trt.errors import IfanError

    path = sandbox.path("c.json")
    path.write_text(cache.replace("ifan-trt calibration cache 1", CACHE_FORMAT))
    with pytest.raises(IfanError, match="c.json"):
        read_cache(path)


def test_calibration_cache_ranges_are_checked():
    from ifan_trt.calib.int8 import _cached_ranges
    from ifan_trt.errors import IfanError

    assert _cached_ranges({"ranges": {"a": [-1, 2.5]}}, None) == {"a": (-1.0, 2.5)}
    for bad in ({"a": [2, 1]}, {"a": ["x", 1]}, {"a": [float("nan"), 1]}, {"a": [1]}, [1]):
        with pytest.raises(IfanError, match="malformed calibration cache"):
            _cached_ranges({"ranges": bad}, None)


def test_sidecar_written_by_build_is_read_back(tmp_path):
    """The sidecar loader accepts what the writer makes (the fields the runtime reads)."""
    from ifan_trt.runtime.model_files.metadata import info_from_sidecar

    (tmp_path / "m.engine.json").write_text(_sidecar())
    info = info_from_sidecar(tmp_path / "m.engine")
    assert (info.precision, info.size_multiple, info.n_iters) == ("fp16", 8, 2)


@pytest.mark.parametrize("hw", [(24, 40), (10, 12)])
def test_fixed_shape_onnx_is_tiled_or_padded_to_its_size(sandbox, hw):
    """An export with a fixed 16x16 input runs other sizes in 16x16 pieces (identity graph: output == input)."""
    pytest.importorskip("onnxruntime")
    h.onnx_with_metadata(sandbox.path("s.onnx"), h.GOOD_META, static=(16, 16))
    source = h.read_back(h.image(sandbox.path("in.png"), *hw))
    result = sandbox.run("deblur", "in.png", "-o", "out.png", "--onnx", "s.onnx")
    assert result.code == 0, result.err
    out = h.read_back(sandbox.root / "out.png")
    assert out.shape == source.shape and np.abs(out.astype(int) - source).max() <= 1
    check_invariants(result, sandbox.root, {"out.png"})


@pytest.mark.parametrize("kind", ["fifo", "dev_zero", "junk", "missing"])
def test_check_reads_only_regular_onnx_files(sandbox, kind):
    path = sandbox.root / "m.onnx"
    {"fifo": lambda: h.fifo(path), "dev_zero": lambda: path.symlink_to("/dev/zero"),
     "junk": lambda: path.write_bytes(b"junk"), "missing": lambda: None}[kind]()
    result = sandbox.run("check", "m.onnx")
    error_line(result, "check", "m.onnx")
    check_invariants(result, sandbox.root)


def test_a_backend_refusal_of_any_type_is_one_line(sandbox, monkeypatch, tmp_path):
    """An exception raised by a backend (here a ValueError from ONNX Runtime's calibrator) is wrapped
    where our code calls it, as the backend refusing this model; the same type raised by our own
    code is a bug. No file names decide."""
    pytest.importorskip("onnxruntime")
    import onnxruntime.quantization.calibrate as ort_calibrate

    from ifan_trt.calib import int8
    from ifan_trt.errors import BackendError
    from ifan_trt.failures import describe

    def refuse(*args, **kwargs):
        raise ValueError("Histogram has not been collected")

    monkeypatch.setattr(ort_calibrate, "create_calibrator", refuse)
    with pytest.raises(BackendError) as caught:
        int8.collect_ranges(tmp_path / "twin.onnx", "percentile", None, [], tmp_path)
    assert describe(caught.value) == "ONNX Runtime calibrator error: Histogram has not been collected"
    try:
        raise ValueError("a bug of ours")
    except ValueError as exc:
        assert describe(exc) is None


def test_an_executor_wraps_what_its_backend_raises():
    import numpy as np

    from ifan_trt.errors import BackendError
    from ifan_trt.failures import describe
    from ifan_trt.runtime.interface.executor import Executor

    class Refusing(Executor):
        backend = "onnxruntime"

        def run(self, input, left=None, right=None):
            raise RuntimeError("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Non-zero status code")

    with pytest.raises(BackendError) as caught:
        Refusing().run_filled(np.zeros((1, 3, 8, 8), np.float32))
    assert describe(caught.value, "in.png") == ("in.png: onnxruntime error: [ONNXRuntimeError] : 6 : "
                                                "RUNTIME_EXCEPTION : Non-zero status code")


def test_onnx_metadata_that_is_not_utf8_is_one_line(sandbox):
    pytest.importorskip("onnxruntime")
    path = h.onnx_with_metadata(sandbox.path("m.onnx"), {**h.GOOD_META, "ifan.tool_version": "QQQQ"})
    path.write_bytes(path.read_bytes().replace(b"QQQQ", b"\xff\xfe\xfd\xfc"))
    h.image(sandbox.path("in.png"))
    result = sandbox.run("deblur", "in.png", "-o", "out.png", "--onnx", "m.onnx")
    error_line(result, "deblur", "m.onnx", "not UTF-8")
    assert result.out == ""  # ONNX Runtime's own fallback prints are dropped too
    check_invariants(result, sandbox.root)
