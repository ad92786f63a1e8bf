"""The GPU path end to end on the CPU: `ifan build` and every command that runs an engine, against
the TensorRT and CUDA stand-ins (tests/helpers/fake_tensorrt.py, fake_cuda.py). The stand-in
runs the graph the plan holds with ONNX Runtime, so an engine's result must equal ONNX Runtime on
the graph it was built from (1e-5, every precision: the same graph); against the FP32 export the
prepared graphs differ by their precision's own error (tolerances below)."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from ifan_trt.errors import IfanError
from tests.helpers import fake_tensorrt
from tests.helpers.fake_cuda import FakeGpu

SAME_GRAPH_TOL = 1e-5
# the prepared graph against the FP32 export (ONNX Runtime, small random model, synthetic images)
PRECISION_TOL = {"fp32": 1e-5, "fp16": 2e-2, "int8": 1e-1, "int8-fp16": 1e-1}
SIZE = (32, 48)
DYNAMIC_SHAPES = ("--shapes", "min=1x3x16x16,opt=1x3x32x48,max=2x3x64x64",
                  "--shapes", "min=1x3x64x64,opt=1x3x64x96,max=1x3x96x96")


@pytest.fixture(scope="module")
def exports(models, tmp_path_factory):
    """The small model's plugin export, made before any stand-in is in sys.modules (torch.export trips
    on a fake tensorrt), and its static twin: the same graph with input and output fixed at 1x3x32x48
    (what `ifan export --static-size 32x48 --static-batch 1` declares, without a second export)."""
    import onnx

    folder = tmp_path_factory.mktemp("gpu_path_exports")
    model = onnx.load(models("plugin"))
    for value in list(model.graph.input) + list(model.graph.output):
        for dim, size in zip(value.type.tensor_type.shape.dim, (1, 3, *SIZE)):
            dim.ClearField("dim_param")
            dim.dim_value = size
    del model.graph.value_info[:]
    onnx.save(model, folder / "static.onnx")
    return {"dynamic": models("plugin"), "static": folder / "static.onnx"}


def _build_fails(trt, onnx_path, logged: str, capfd, profile="min=1x3x32x48,opt=1x3x32x48,max=1x3x32x48"):
    """The build raises one IfanError line and TensorRT's log (through Polygraphy) says why."""
    from ifan_trt.runtime.tensorrt import build as engine_build
    from ifan_trt.runtime.model_files.optimization_profiles import parse_profiles

    with pytest.raises(IfanError, match=rf"{Path(onnx_path).name}: TensorRT build failed"):
        engine_build.build_plan(trt, onnx_path, parse_profiles([profile]), ["input"], 1 << 30, None, False, None, None)
    out = capfd.readouterr()
    assert logged in out.out + out.err


@pytest.fixture(scope="module")
def calib_pics(tmp_path_factory) -> Path:
    import cv2

    pics = tmp_path_factory.mktemp("gpu_path_pics")
    for i in range(2):
        image = (np.random.default_rng(i).random((SIZE[0], SIZE[1], 3)) * 255).astype(np.uint8)
        cv2.imwrite(str(pics / f"{i}.png"), cv2.GaussianBlur(image, (5, 5), 2))
    return pics


@pytest.fixture(scope="module")
def standin(exports, tmp_path_factory):
    """TensorRT 10.3 and both CUDA bindings replaced for this module; engines built once each."""
    folder = tmp_path_factory.mktemp("gpu_path_engines")
    from ifan_trt.calib import prepare

    with pytest.MonkeyPatch.context() as mp:
        # the dynamic export's FP16 measurement and INT8 calibration at 32x48 instead of 256x256: the same
        # steps, in a few seconds (the static export keeps the product's own choice of size)
        make_fp16, make_int8 = prepare.make_fp16, prepare.make_int8

        def small(a, k):
            return Path(a[0]) == Path(exports["dynamic"])

        mp.setattr(prepare, "make_fp16",
                   lambda *a, **k: make_fp16(*a, **({**k, "size": SIZE} if small(a, k) else k)))
        mp.setattr(prepare, "make_int8",
                   lambda *a, **k: make_int8(*a[:5], SIZE, *a[6:], **k) if small(a, k) else make_int8(*a, **k))
        trt = fake_tensorrt.install(mp, "10.3.0.26", FakeGpu())
        mp.setenv("IFAN_TRT_PLUGIN", str(fake_tensorrt.write_plugin_library(folder, 10)))
        built: dict = {}

        def engine(export: str, *options: str) -> Path:
            key = (export, options)
            if key not in built:
                out = folder / f"e{len(built)}.plan"
                built[key] = fake_tensorrt.build(exports[export], out, *options)
            return built[key]

        yield types.SimpleNamespace(trt=trt, gpu=trt._gpu, engine=engine, folder=folder, mp=mp)


def _images(batch, *size, seed=0):
    """(batch, 3, h, w) synthetic images; size is (h, w) or (3, h, w)."""
    from ifan_trt.export.verify import synthetic_images

    h, w = size[-2:]
    return synthetic_images(batch, h, w, seed)


def _ort(onnx_path, x):
    from ifan_trt.export.ort_plugin import ort_session

    return ort_session(str(onnx_path)).run(None, {"input": x})[0]


def _built_from(engine) -> Path:
    from ifan_trt.runtime.model_files.sidecar import read_sidecar

    return Path(read_sidecar(engine)["onnx"]["path"])


# ---------------------------------------------------------------- building

def test_fp32_engines_from_dynamic_and_static_exports_equal_onnx_runtime(standin, exports):
    from ifan_trt.runtime.tensorrt.executor import TrtExecutor

    for export, options in (("dynamic", DYNAMIC_SHAPES), ("static", ("--shapes", "min=32x48,opt=32x48,max=32x48"))):
        engine = standin.engine(export, "--iac-split", "off", *options)
        assert _built_from(engine) == exports[export]
        with TrtExecutor(engine) as ex:
            for shape in ((1, 3, 32, 48),) + (((2, 3, 16, 24), (1, 3, 96, 64)) if export == "dynamic" else ()):
                x = _images(shape[0], *shape[2:])
                y = ex.run(x)
                assert y.shape == shape and np.abs(y - _ort(exports[export], x)).max() <= SAME_GRAPH_TOL
    assert standin.gpu.live() == {}


@pytest.mark.parametrize("precision", ["fp16", "int8", "int8-fp16"])
def test_each_precision_builds_and_runs_its_prepared_graph(standin, exports, calib_pics, precision):
    from ifan_trt.export.graph import graph_precision
    import onnx

    from ifan_trt.runtime.tensorrt.executor import TrtExecutor

    engine = standin.engine("dynamic", "--precision", precision, "--calib-images", str(calib_pics), *DYNAMIC_SHAPES)
    prepared = _built_from(engine)
    assert graph_precision(onnx.load(prepared)) == precision
    x = _images(1, *SIZE)
    with TrtExecutor(engine) as ex:
        y = ex.run(x)
    assert np.abs(y - _ort(prepared, x)).max() <= SAME_GRAPH_TOL
    assert np.abs(y - _ort(exports["dynamic"], x)).max() <= PRECISION_TOL[precision]
    side = json.loads(Path(f"{engine}.json").read_text())
    assert side["precision"] == precision and side["tensorrt_version"] == "10.3.0.26"
    assert side["gpu"]["name"] == "NVIDIA Stand-in GPU"


@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_precisions_from_a_static_export(standin, exports, calib_pics, precision):
    from ifan_trt.runtime.tensorrt.executor import TrtExecutor

    # the preparation measures and calibrates at the export's own fixed size (not 256x256)
    engine = standin.engine("static", "--precision", precision, "--calib-images", str(calib_pics),
                            "--shapes", "min=32x48,opt=32x48,max=32x48")
    x = _images(1, *SIZE)
    with TrtExecutor(engine) as ex:
        y = ex.run(x)
    assert np.abs(y - _ort(_built_from(engine), x)).max() <= SAME_GRAPH_TOL
    assert np.abs(y - _ort(exports["static"], x)).max() <= PRECISION_TOL[precision]


def test_the_split_iac_form_equals_the_one_node_form(standin, exports):
    from ifan_trt.runtime.tensorrt.executor import TrtExecutor

    cache = standin.folder / "timing.cache"
    split = standin.engine("dynamic", "--iac-split", "on", "--timing-cache", str(cache), *DYNAMIC_SHAPES)
    assert json.loads(Path(f"{split}.json").read_text())["iac_split"] is True
    assert cache.read_bytes()  # the builder's timing cache was saved
    x = _images(2, 16, 24, seed=3)
    with TrtExecutor(split) as ex:
        y = ex.run(x)
    assert np.abs(y - _ort(exports["dynamic"], x)).max() <= SAME_GRAPH_TOL


def test_version_compatible_engine_embeds_the_plugin(standin, exports, monkeypatch):
    """The build inspects the plan in a fresh process (it embeds the plugin this one registered);
    a new process runs it without loading the library again, and refuses a second registration."""
    from ifan_trt.runtime.tensorrt.executor import TrtExecutor

    child = fake_tensorrt.child_module_path(standin.folder / "child", "10.3.0.26")
    standin.mp.setenv("PYTHONPATH", child)
    engine = standin.engine("dynamic", "--iac-split", "off", "--version-compatible", *DYNAMIC_SHAPES)
    side = json.loads(Path(f"{engine}.json").read_text())
    assert side["builder"]["version_compatible"] and side["plugin_library"]["path"]
    fresh = fake_tensorrt.install(monkeypatch, "10.3.0.26", standin.gpu)  # another process: nothing registered
    x = _images(1, *SIZE)
    with TrtExecutor(engine) as ex:
        assert np.abs(ex.run(x) - _ort(exports["dynamic"], x)).max() <= SAME_GRAPH_TOL
    assert [c.name for c in fresh.get_plugin_registry().all_creators] == ["IFAN_IAC"]  # from the plan
    again = fresh.Runtime(fresh.Logger())
    again.engine_host_code_allowed = True
    assert again.deserialize_cuda_engine(engine.read_bytes()) is None  # IFAN_IAC registered twice


def test_a_profile_that_contradicts_a_fixed_dimension_fails_as_tensorrt_does(standin, exports, capfd):
    _build_fails(standin.trt, exports["static"], "input: for dimension number 3 in profile 0 does not match network "
                 "definition (got min=32, opt=48, max=48), expected min=opt=max=48", capfd,
                 "min=1x3x32x32,opt=1x3x32x48,max=1x3x32x48")


def test_an_unregistered_plugin_or_a_wrong_field_type_fails_the_parse(standin, exports, tmp_path, monkeypatch,
                                                                     capfd):
    import onnx
    from onnx import helper

    bare = fake_tensorrt.install(monkeypatch, "10.3.0.26", standin.gpu)  # no library loaded
    _build_fails(bare, exports["static"], "Plugin not found, are the plugin name, version, and namespace correct? "
                 "(op IFAN_IAC, plugin_version '1', plugin_namespace '')", capfd)
    bare.get_plugin_registry().load_library(str(fake_tensorrt.write_plugin_library(tmp_path, 10)))
    model = onnx.load(exports["static"])
    node = next(n for n in model.graph.node if n.op_type == "IFAN_IAC")
    attrs = {a.name: a for a in node.attribute}
    del node.attribute[:]
    node.attribute.extend([a for name, a in attrs.items() if name != "slope"]
                          + [helper.make_attribute("slope", 0)])  # an INT where the creator declares kFLOAT32
    onnx.save(model, tmp_path / "int_slope.onnx")
    _build_fails(bare, tmp_path / "int_slope.onnx", "Could not create plugin IFAN_IAC", capfd)
    del node.attribute[:]
    node.attribute.extend([a for name, a in attrs.items() if name != "plugin_version"]
                          + [helper.make_attribute("plugin_version", "2")])
    onnx.save(model, tmp_path / "v2.onnx")
    _build_fails(bare, tmp_path / "v2.onnx", "plugin_version '2'", capfd)


# ---------------------------------------------------------------- TensorRT 11

def test_tensorrt_11_builds_strongly_typed_without_the_deprecated_flag(exports, tmp_path, monkeypatch):
    """11.x makes every network strongly typed and deprecates NetworkDefinitionCreationFlag.STRONGLY_TYPED:
    the build neither needs nor passes it; its inspector spells the type key "DataType"."""
    from ifan_trt.runtime.tensorrt.executor import TrtExecutor
    from ifan_trt.runtime.model_files.sidecar import read_sidecar

    trt = fake_tensorrt.install(monkeypatch, "11.1.0.5", strongly_typed_flag=False)
    assert not hasattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED") and not hasattr(trt.BuilderFlag, "FP16")
    monkeypatch.setenv("IFAN_TRT_PLUGIN", str(fake_tensorrt.write_plugin_library(tmp_path, 11)))
    engine = fake_tensorrt.build(exports["static"], tmp_path / "t11.plan", "--shapes", "min=32x48,opt=32x48,max=32x48")
    side = read_sidecar(engine)
    assert side["builder"]["strongly_typed"] and side["tensorrt_version"] == "11.1.0.5"
    assert list(side["layer_precisions"]) == ["FP32"]  # read from 11's "DataType" keys, none "n/a"
    x = _images(1, *SIZE)
    with TrtExecutor(engine) as ex:
        assert np.abs(ex.run(x) - _ort(exports["static"], x)).max() <= SAME_GRAPH_TOL


def test_tensorrt_10_without_the_flag_is_refused(monkeypatch, tmp_path):
    from ifan_trt.runtime.tensorrt import build as engine_build

    monkeypatch.setitem(sys.modules, "tensorrt", fake_tensorrt.builder_tensorrt("10.3.0", strongly_typed=False))
    monkeypatch.setattr("ifan_trt.optional.require", lambda *a, **k: None)
    with pytest.raises(IfanError, match=r"TensorRT 10\.3\.0: strongly typed networks need TensorRT 10\.0"):
        engine_build.probe_tensorrt("fp32", False, False, None)


def test_inspector_keys_are_matched_whatever_their_case():
    from ifan_trt.runtime.tensorrt.inspect import layer_precisions

    layers = {"Layers": [{"Name": "conv", "LayerType": "CaskConvolution",
                          "Inputs": [{"Name": "x", "DataType": "Half", "Format": "Row major linear"}],
                          "Outputs": [{"Name": "y", "DATATYPE": "Int8", "format": "Channel major"}]},
                         {"Name": "tail", "LayerType": "CaskConvolution",
                          "Inputs": [{"Name": "y", "format/datatype": "Row major linear FP32 format"}]}]}
    assert [lp.precision for lp in layer_precisions(layers)] == ["FP16", "FP32"]
    assert layer_precisions(layers)[0].outputs == ["INT8"]


# ---------------------------------------------------------------- the commands that run an engine
# Each runs the FP32 engine and, the same way, the ONNX graph it was built from on ONNX Runtime:
# the results must agree (8-bit files to one code value, floats to 1e-5).

@pytest.fixture(scope="module")
def fp32_engine(standin):
    return standin.engine("dynamic", "--iac-split", "off", *DYNAMIC_SHAPES)


def _pic(path, h, w, seed):
    import cv2

    image = (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)
    assert cv2.imwrite(str(path), cv2.GaussianBlur(image, (5, 5), 1.5))
    return path


def _read(path):
    import cv2

    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED).astype(int)


def _both(fp32_engine, run):
    """run(model flags, tag) for the engine and for its ONNX graph."""
    return run(["--engine", str(fp32_engine)], "trt"), run(["--onnx", str(_built_from(fp32_engine))], "ort")


def test_deblurrer_on_an_engine_equals_onnx_runtime(standin, fp32_engine):
    from ifan_trt.runtime.images.deblurrer import Deblurrer

    image = np.random.default_rng(5).random((30, 44, 3)).astype(np.float32)
    engine, graph = Deblurrer(model=fp32_engine), Deblurrer(model=_built_from(fp32_engine))
    assert engine.executor.backend == "tensorrt" and graph.executor.backend == "onnxruntime"
    got, want = engine(image), graph(image)
    assert got.shape == image.shape and np.abs(got - want).max() <= SAME_GRAPH_TOL
    engine.executor.close()
    assert standin.gpu.live() == {}


@pytest.mark.parametrize("case", ["image", "folder", "batch", "tiled"])
def test_deblur_images_with_an_engine(standin, fp32_engine, tmp_path, case):
    from ifan_trt.cli import main

    src = tmp_path / "in"
    src.mkdir()
    sizes = {"image": [(30, 44)], "folder": [(30, 44), (40, 24)], "batch": [(32, 40)] * 3, "tiled": [(72, 88)]}[case]
    for i, (h, w) in enumerate(sizes):
        _pic(src / f"{i}.png", h, w, i)
    extra = {"batch": ["--batch", "2"], "tiled": ["--tile", "48x48", "--overlap", "16"]}.get(case, [])
    target = src / "0.png" if case == "image" else src

    def run(model, tag):
        out = tmp_path / (f"{tag}.png" if case == "image" else tag)
        assert main(["deblur", str(target), "-o", str(out), "--quiet", *model, *extra]) == 0
        return out

    trt_out, ort_out = _both(fp32_engine, run)
    pairs = [(trt_out, ort_out)] if case == "image" else [(trt_out / p.name, ort_out / p.name) for p in src.iterdir()]
    for a, b in pairs:
        assert np.abs(_read(a) - _read(b)).max() <= 1
    assert standin.gpu.live() == {}  # the command closed its executor


def test_deblur_video_with_an_engine(standin, fp32_engine, tmp_path):
    import cv2

    from ifan_trt.cli import main
    from tests.helpers.runtime import write_video

    clip = tmp_path / "clip.avi"
    write_video(clip, frames=4, size=(32, 48), fps=10)

    def run(model, tag):
        out = tmp_path / f"{tag}.avi"
        assert main(["deblur", str(clip), "-o", str(out), "--quiet", "--batch", "2", *model]) == 0
        capture = cv2.VideoCapture(str(out))
        frames = []
        while True:
            ok, frame = capture.read()
            if not ok:
                return frames
            frames.append(frame.astype(int))

    trt_frames, ort_frames = _both(fp32_engine, run)
    assert standin.gpu.live() == {}
    assert len(trt_frames) == 4 and all(np.abs(a - b).max() <= 2 for a, b in zip(trt_frames, ort_frames))


def test_demo_profile_and_eval_run_the_engine(standin, fp32_engine, tmp_path, capsys):
    from ifan_trt.cli import main
    from tests.helpers.runtime import write_video

    clip = tmp_path / "clip.mp4"
    write_video(clip, frames=4, size=(32, 48), fps=25)
    report = tmp_path / "demo.json"
    assert main(["demo", str(clip), "--engine", str(fp32_engine), "--headless", "--record", str(tmp_path / "r.mp4"),
                 "--json", str(report), "--quiet"]) == 0
    data = json.loads(report.read_text())
    assert (data["backend"], data["precision"], data["frames"]["read"]) == ("tensorrt", "fp32", 4)
    assert standin.gpu.live() == {}, "demo"

    assert main(["profile", "--engine", str(fp32_engine), "--shape", "1x3x32x48", "--warmup", "1",
                 "--iterations", "2", "--json", str(tmp_path / "p.json"), "--quiet"]) == 0
    result = json.loads((tmp_path / "p.json").read_text())["results"][0]
    assert result["backend"].startswith("tensorrt fp32") and len(result["iterations_ms"]) == 2
    assert standin.gpu.live() == {}, "profile"
    import onnx

    assert set(result["layer_mean_ms"]) == {n.name for n in onnx.load(_built_from(fp32_engine)).graph.node}

    data_dir = tmp_path / "set"
    for sub in ("source", "target"):
        (data_dir / sub).mkdir(parents=True)
    for i in range(2):
        _pic(data_dir / "source" / f"{i}.png", 32, 40, i)
        _pic(data_dir / "target" / f"{i}.png", 32, 40, i + 10)

    def run(model, tag):
        out = tmp_path / f"eval_{tag}.json"
        assert main(["eval", "--data", str(data_dir), "--json", str(out), "--quiet", *model]) == 0
        return json.loads(out.read_text())

    trt_eval, ort_eval = _both(fp32_engine, run)
    assert standin.gpu.live() == {}, "eval"
    assert trt_eval["backend"].startswith("tensorrt") and ort_eval["backend"].startswith("onnxruntime")
    for metric in ("psnr", "ssim", "mae"):
        assert abs(_metric(trt_eval, metric) - _metric(ort_eval, metric)) <= 1e-3
    capsys.readouterr()


def _metric(report: dict, name: str) -> float:
    """The mean of a metric in an eval JSON, wherever the report keeps it."""
    for key in ("output", "summary", "metrics", "mean"):
        if isinstance(report.get(key), dict) and name in report[key]:
            value = report[key][name]
            return float(value["mean"] if isinstance(value, dict) else value)
    if name in report:
        return float(report[name])
    raise AssertionError(f"no {name} in {sorted(report)}")


def test_triton_repo_from_an_engine(standin, fp32_engine, tmp_path):
    from ifan_trt.cli import main

    repo = tmp_path / "repo"
    assert main(["triton-repo", str(fp32_engine), "-o", str(repo), "--quiet"]) == 0
    files = sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*") if p.is_file())
    plan = next(p for p in files if p.endswith(".plan"))
    assert (repo / plan).read_bytes() == fp32_engine.read_bytes()
    config = (repo / plan).parent.parent / "config.pbtxt"
    text = config.read_text()
    assert 'platform: "tensorrt_plan"' in text or 'backend: "tensorrt"' in text


def test_benchmark_has_engine_rows_equal_to_their_graphs(standin, exports, tmp_path, capsys):
    from ifan_trt.cli import main

    data_dir = tmp_path / "set"
    for sub in ("source", "target"):
        (data_dir / sub).mkdir(parents=True)
    for i in range(2):
        _pic(data_dir / "source" / f"{i}.png", 64, 72, i)
        _pic(data_dir / "target" / f"{i}.png", 64, 72, i + 10)
    assert main(["benchmark", "--onnx", str(exports["dynamic"]), "--data", str(data_dir), "--out-dir",
                 str(tmp_path / "out"), "--precisions", "fp32", "--shape", "1x3x64x64", "--iterations", "2",
                 "--warmup", "0", "--quiet"]) == 0
    report = json.loads((tmp_path / "out" / "benchmark.json").read_text())
    rows = {(r["format"], r["precision"]): r for r in report["rows"] if r["format"] != "input"}
    assert set(rows) == {("onnx", "fp32"), ("engine", "fp32")}
    engine_row, graph_row = rows[("engine", "fp32")], rows[("onnx", "fp32")]
    assert engine_row["backend"].startswith("tensorrt fp32")
    for metric in ("psnr", "ssim"):
        assert abs(engine_row[metric] - graph_row[metric]) <= 1e-3
    assert standin.gpu.live() == {}, "benchmark"
    capsys.readouterr()


@pytest.mark.parametrize("binding", ["cuda-python", "pycuda"])
def test_serve_handlers_answer_concurrent_requests_from_worker_threads(standin, fp32_engine, binding):
    """What `ifan serve --engine --instances 2` does under PyTriton, without Triton: executors opened in
    the main thread, each behind its ImageHandler, called from several worker threads at once."""
    from concurrent.futures import ThreadPoolExecutor

    from ifan_trt.runtime.images.pipeline import Tiling
    from ifan_trt.runtime.serving.serve import ImageHandler
    from ifan_trt.runtime.serving.serve_protocol import DEFAULT_MAX_IMAGE_PIXELS
    from ifan_trt.runtime.executors.ort_executor import OrtExecutor
    from ifan_trt.runtime.tensorrt.executor import TrtExecutor

    executors = [TrtExecutor(fp32_engine, cuda=binding) for _ in range(2)]
    assert {e.cuda_binding for e in executors} == {binding}
    handlers = [ImageHandler(e, Tiling(), DEFAULT_MAX_IMAGE_PIXELS) for e in executors]
    reference = ImageHandler(OrtExecutor(_built_from(fp32_engine)), Tiling(), DEFAULT_MAX_IMAGE_PIXELS)
    rng = np.random.default_rng(9)
    batches = [rng.integers(0, 256, (2, 24, 40, 3), dtype=np.uint8) for _ in range(8)]
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda i: handlers[i % 2](batches[i]), range(len(batches))))
    for batch, answer in zip(batches, answers):
        assert answer.dtype == np.uint8 and np.abs(answer.astype(int) - reference(batch).astype(int)).max() <= 1
    for e in executors:
        e.close()
    assert standin.gpu.live() == {}


def test_the_tensorrt_stand_in_refuses_what_tensorrt_refuses(standin, fp32_engine, capfd):
    """Its execution context: shapes within the active profile, an address for every I/O tensor, device
    memory of the engine's device behind each address."""
    trt, gpu = standin.trt, standin.gpu
    runtime = trt.Runtime(trt.Logger())
    assert runtime.deserialize_cuda_engine(b"not a plan") is None
    engine = runtime.deserialize_cuda_engine(fp32_engine.read_bytes())
    assert engine.get_tensor_shape("input") == (-1, 3, -1, -1)  # -1 for every dynamic dimension
    context = engine.create_execution_context()
    assert not context.execute_async_v3(0)  # no input shape yet
    assert not context.set_input_shape("input", (1, 3, 128, 128))  # profile 0 ends at 64x64
    assert context.set_input_shape("input", (1, 3, 32, 48))
    assert context.get_tensor_shape("output") == (1, 3, 32, 48)
    assert not context.execute_async_v3(0)
    assert "Address is not set for tensor input" in capfd.readouterr().err
    host = gpu.allocate("host", 3 * 32 * 48 * 4)
    output = gpu.allocate("device", 3 * 32 * 48 * 4)
    assert context.set_tensor_address("input", host.ptr) and context.set_tensor_address("output", output.ptr)
    assert not context.execute_async_v3(0)  # pinned host memory is not device memory
    assert "illegal memory access" in capfd.readouterr().err
    for a in (host, output):
        gpu.free(a.kind, a.ptr, "free")


def test_a_jetson_whose_driver_is_older_than_cuda_python_runs_the_engine_through_pycuda(standin, fp32_engine,
                                                                                      monkeypatch, caplog):
    """cuda-python 12.9 on JetPack 6 (CUDA 12.6, no minor-version compatibility on Tegra): every call
    returns cudaErrorInsufficientDriver; the executor says so in one line and runs through pycuda."""
    from ifan_trt.runtime.images.deblurrer import Deblurrer
    from tests.helpers import fake_cuda

    fake_cuda.install(monkeypatch, standin.gpu, status=fake_cuda.INSUFFICIENT, runtime=12090, driver=12060)
    image = np.random.default_rng(6).random((24, 32, 3)).astype(np.float32)
    deblur = Deblurrer(model=fp32_engine)
    assert deblur.executor.cuda_binding == "pycuda"
    assert [m for m in caplog.messages if "CUDA through pycuda" in m][0].count("needs the CUDA 12.9 runtime") == 1
    assert np.abs(deblur(image) - Deblurrer(model=_built_from(fp32_engine))(image)).max() <= SAME_GRAPH_TOL
    deblur.executor.close()
    assert standin.gpu.live() == {}
