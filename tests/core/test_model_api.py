"""ifan_trt.Model: the jobs the commands run, called from Python on the small random model:
export -> precision (fp16, int8-cpu) -> deblur, each file and each output equal to what the
`ifan` commands make from the same inputs; errors name the Python parameters; nothing is printed."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("torch")

import ifan_trt  # noqa: E402
from ifan_trt.cli import main  # noqa: E402
from ifan_trt.errors import IfanError  # noqa: E402
from ifan_trt.export.graph import graph_precision, load_model, metadata  # noqa: E402
from ifan_trt.imageio import read_image  # noqa: E402

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def pics(tmp_path_factory):
    import cv2

    folder = tmp_path_factory.mktemp("pics")
    for i in range(4):
        cv2.imwrite(str(folder / f"{i}.png"), (np.random.default_rng(i).random((32, 40, 3)) * 255).astype(np.uint8))
    return folder


def _same_graph(a, b) -> bool:
    ga, gb = load_model(a).graph, load_model(b).graph
    return ga.SerializeToString(deterministic=True) == gb.SerializeToString(deterministic=True)


def test_round_trip_equals_the_commands(models, pics, tmp_path, capsys):
    api, cli = tmp_path / "api", tmp_path / "cli"
    api.mkdir(), cli.mkdir()
    checkpoint = models("checkpoint")
    opts = {"calib_count": 4, "calib_size": (32, 32)}

    m = ifan_trt.Model(checkpoint)
    assert m.kind == "checkpoint"
    onnx = m.export(api / "small.onnx")
    fp16 = onnx.precision("fp16", calib_images=pics, **opts)
    cpu = onnx.precision("int8-cpu", calib_images=pics, **opts)
    assert capsys.readouterr() == ("", "")  # the API never prints
    assert (fp16.path.name, cpu.path.name) == ("small.fp16.onnx", "small.int8-cpu.onnx")
    assert graph_precision(load_model(fp16.path)) == "fp16" and metadata(load_model(cpu.path))["ifan.int8_target"] == "cpu"

    size = ["--calib-size", "32x32", "--calib-count", "4", "--calib-images", str(pics)]
    assert main(["export", "--checkpoint", str(checkpoint), "-o", str(cli / "small.onnx")]) == 0
    assert main(["precision", str(cli / "small.onnx"), "--to", "fp16", *size]) == 0
    assert main(["precision", str(cli / "small.onnx"), "--to", "int8-cpu", *size]) == 0
    for name in ("small.onnx", "small.fp16.onnx", "small.int8-cpu.onnx"):
        assert _same_graph(api / name, cli / name), name

    image = (np.random.default_rng(7).random((24, 40, 3)) * 255).astype(np.uint8)
    import cv2

    cv2.imwrite(str(tmp_path / "in.png"), image[:, :, ::-1])
    for model in (onnx, cpu):
        with model:
            ours = model(image)
        out = tmp_path / f"{model.path.stem}.out.png"
        assert main(["deblur", str(tmp_path / "in.png"), "-o", str(out), "--onnx", str(model.path)]) == 0
        theirs = (read_image(out).rgb * 255).round().astype(np.uint8)
        assert ours.shape == image.shape and ours.dtype == np.uint8
        assert np.array_equal(ours, theirs), model.path.name  # same pipeline, same bytes


def test_errors_name_the_parameters(models, tmp_path):
    onnx = ifan_trt.Model(models("plugin"))
    with pytest.raises(IfanError, match=r"^precision 'int4': expected one of fp16, int8, int8-fp16, int8-cpu$"):
        onnx.precision("int4")
    with pytest.raises(IfanError, match=r"^precision int8: needs calib_images"):
        onnx.precision("int8")
    with pytest.raises(IfanError, match=r"^Model.export: needs a checkpoint model, not the onnx "):
        onnx.export(tmp_path / "x.onnx")
    with pytest.raises(IfanError, match=r"nothere.onnx: no such file \(model\)$"):
        ifan_trt.Model(tmp_path / "nothere.onnx")
    with pytest.raises(IfanError, match=r"^precision 'fp8': expected one of fp32, fp16, int8, int8-fp16$"):
        onnx.build(tmp_path / "x.engine", precision="fp8")


def test_default_is_the_bundled_export_and_inspect_reads_it():
    m = ifan_trt.Model()
    facts = m.inspect()
    assert m.default and m.kind == "onnx" and facts["kind"] == "onnx" and facts["precision"] == "fp32"


def test_model_export_takes_every_export_option_the_command_has(monkeypatch, tmp_path):
    """Model.export passes uint8 I/O, channel order, input bit depth and IAC mode to the export job,
    with the command's defaults (BGR frames)."""
    from ifan_trt import Model
    from ifan_trt.jobs import export as export_job

    seen = []
    monkeypatch.setattr(export_job, "export", lambda request: seen.append(request) or pytest.fail("stop"))
    checkpoint = tmp_path / "m.pth"
    checkpoint.write_bytes(b"")
    with pytest.raises(pytest.fail.Exception):
        Model(checkpoint).export(tmp_path / "m.onnx", io="uint8", in_bit=16, iac_mode="official")
    (request,) = seen
    assert (request.io, request.channel_order, request.in_bit, request.iac_mode) == ("uint8", "bgr", 16, "official")


class _Terminal:
    """A stderr that says it is a terminal: where tqdm draws its bars unless told not to."""

    def __init__(self):
        self.text = []

    def isatty(self):
        return True

    def write(self, text):
        self.text.append(text)

    def flush(self):
        pass


def test_the_api_draws_no_progress_unless_given_bars(models, pics, tmp_path, monkeypatch):
    import functools

    import cv2
    from tqdm import tqdm

    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    data = tmp_path / "data"
    for sub in ("source", "target"):
        (data / sub).mkdir(parents=True)
        for i in range(2):
            cv2.imwrite(str(data / sub / f"{i}.png"), cv2.imread(str(pics / f"{i}.png")))
    clip = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (40, 32))
    for i in range(3):
        writer.write(np.full((32, 40, 3), 40 * i + 30, np.uint8))
    writer.release()

    m = ifan_trt.Model(models("onnx"))
    m.precision("fp16", pics, tmp_path / "a.fp16.onnx", calib_count=2, calib_size=(32, 32))
    ifan_trt.Deblurrer(models("onnx")).deblur_video(clip, tmp_path / "out.avi")
    bench = m.benchmark(data, tmp_path / "bench", precisions=("fp32",), shape=(1, 3, 32, 40), warmup=0, iterations=1,
                        build_engines=False)
    assert [r["format"] for r in bench.rows] == ["input", "onnx"]
    assert terminal.text == []
    # asked for, the same calls draw on the terminal
    m.precision("fp16", pics, tmp_path / "b.fp16.onnx", calib_count=2, calib_size=(32, 32),
                progress=functools.partial(tqdm, file=terminal))
    assert any("fp16 measure" in t for t in terminal.text), terminal.text
