"""Benchmark every precision of one model: the graphs prepared as the precision job makes them,
engines built by the build job where TensorRT and a GPU are present, each run and measured by
ifan_trt.runtime.measure.benchmark into one table (finished rows reused). The request is
runtime.measure.benchmark's BenchmarkRequest (one definition; importable from here)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ifan_trt.precisions import BY_NAME, get as precisions_get, graph_file
from ifan_trt.progress import bar
from ifan_trt.runtime.measure.benchmark import (Bench, BenchmarkRequest, Model, content_key, data_pairs, log_step,
                                                measure_rows, previous_state, sha256_file)


def benchmark(request: BenchmarkRequest) -> Bench:
    """Every precision of the request's model measured into one table (rows an earlier run
    finished with the same files and settings are reused)."""
    for name in request.precisions:
        precisions_get(name, "precisions")
    return run_benchmark(request)


def fp32_source(checkpoint: str | None, onnx: str | None, out_dir: Path) -> Path:
    """The FP32 ONNX every precision starts from: the given export, the bundled one, or the
    checkpoint exported into out_dir (reused while the checkpoint's hash matches)."""
    from ifan_trt.calib import prepare
    from ifan_trt.models import DEFAULT, ModelRef

    if onnx:
        return ModelRef.parse(onnx, "onnx", "--onnx").path
    if checkpoint is None:
        return prepare.source_onnx(Path(DEFAULT), out_dir / "models" / "x.onnx")
    ref = ModelRef.parse(checkpoint, "checkpoint", "--checkpoint")
    return prepare.source_onnx(Path(DEFAULT) if ref.default else ref.path, out_dir / "models" / "x.onnx")


def prepare_graph(src: Path, precision: str, s: BenchmarkRequest, state: dict) -> Path:
    """The graph of one precision in out_dir/models, made unless an earlier run made it from the
    same FP32 file, calibration images and settings."""
    from ifan_trt.calib import images, prepare
    from ifan_trt.calib.cpu_int8 import make_cpu_int8

    if precision == "fp32":
        return src
    models = s.out_dir / "models"
    models.mkdir(parents=True, exist_ok=True)
    out = graph_file(src, precision, models)
    calib = images.find_images(s.calib_images, s.calib_count)
    key = content_key(sha256_file(src), [sha256_file(p) for p in calib], precision, s.calib_size)
    if out.is_file() and state.get(str(out)) == [key, sha256_file(out)]:
        return out
    out.unlink(missing_ok=True)
    log_step(f"preparing {precision} from {src}")
    if precision == "fp16":
        prepare.make_fp16(src, out, s.calib_images, size=s.calib_size, count=min(s.calib_count, 8), progress=False)
    elif BY_NAME[precision].target == "cpu":
        make_cpu_int8(src, out, s.calib_images, "percentile", s.calib_count, s.calib_size, progress=False)
    else:
        cache = out.with_name(f"{out.stem}.calib.json")
        prepare.make_int8(src, out, s.calib_images, "percentile", s.calib_count, s.calib_size, cache,
                          fp16=precision == "int8-fp16", progress=False)
    state[str(out)] = [key, sha256_file(out)]
    return out


def engines_absent(s: BenchmarkRequest) -> str | None:
    """Why this run builds no engines, in one line (None: it builds them): build_engines False, or
    (build_engines None) no TensorRT, no CUDA binding, a binding that cannot reach the driver,
    no GPU."""
    if s.build_engines is False:
        return "--no-engines"
    if s.build_engines:
        return None
    from ifan_trt.runtime.executors.backends import engines_unavailable

    return engines_unavailable()


def build_engine(graph: Path, precision: str, s: BenchmarkRequest, max_hw: tuple[int, int]) -> Path:
    """An engine of the prepared graph (strongly typed, precision from the graph), one profile
    from 64x64 to the largest data image, optimised for the benchmark shape: the build job's."""
    from ifan_trt.jobs.engine import BuildRequest, build_engine as build

    b, c, h, w = s.shape
    big = (max(h, max_hw[0]), max(w, max_hw[1]))
    shapes = f"min=1x{c}x64x64,opt={b}x{c}x{h}x{w},max={b}x{c}x{big[0]}x{big[1]}"
    # in the run's working folder (never beside the user's or the bundled FP32 export), replaced on every run
    output = s.out_dir / "models" / f"{graph.stem}.engine"
    output.parent.mkdir(parents=True, exist_ok=True)
    return build(BuildRequest(onnx=graph, output=output, shapes=(shapes,), overwrite=True)).engine


def plan_models(src: Path, s: BenchmarkRequest, state: dict) -> list[Model]:
    """Every model of the run: the ONNX graph of each precision (ONNX Runtime) and, where
    TensorRT and a GPU are present, an engine of each TensorRT precision."""
    models = []
    engines = bool(s.build_engines)
    for precision in bar(s.progress, s.precisions, desc="prepare", unit="model"):
        graph = prepare_graph(src, precision, s, state)
        models.append(Model("onnx", precision, graph, "onnxruntime"))
        if engines and BY_NAME[precision].buildable:
            models.append(Model("engine", precision, build_engine(graph, precision, s, _max_hw(s)), "tensorrt"))
    return models


def _max_hw(s: BenchmarkRequest) -> tuple[int, int]:
    from ifan_trt.imageio import read_image

    sizes = [read_image(p.source).size for p in data_pairs(s)]
    pad = lambda n: -(-n // 8) * 8
    return pad(max(h for h, _ in sizes)), pad(max(w for _, w in sizes))


def run_benchmark(request: BenchmarkRequest) -> Bench:
    """Prepare every model, then measure each row (reusing finished rows). The request's open
    fields are decided first: calibration images (the data), FP32 first (the reference), the
    calibration size (a fixed-size export's own), whether engines are built."""
    request.out_dir.mkdir(parents=True, exist_ok=True)
    data_pairs(request)  # the data set and the named model are checked before any work
    src = fp32_source(request.checkpoint, request.onnx, request.out_dir)
    from ifan_trt.calib.images import graph_size
    from ifan_trt.export.graph import load_model

    s = replace(request, calib_images=request.calib_images or request.data,
                precisions=("fp32",) + tuple(p for p in dict.fromkeys(request.precisions) if p != "fp32"),
                calib_size=graph_size(load_model(src), request.calib_size, (256, 256), request.size_option))
    previous = previous_state(s)
    state = previous.get("prepared", {})
    absent = engines_absent(s)
    s = replace(s, build_engines=absent is None)
    models = plan_models(src, s, state)
    return measure_rows(models, s, src, previous, state, absent)
