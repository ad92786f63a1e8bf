"""Benchmark every precision of one model: the graphs prepared as the precision job makes them,
engines built by the build job where TensorRT and a GPU are present, each run and measured by
ifan_trt.runtime.measure.benchmark into one table (finished rows reused)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ifan_trt.precisions import BY_NAME, NAMES, get as precisions_get, graph_file
from ifan_trt.runtime.measure.benchmark import (Bench, Model, Settings, content_key, data_pairs, log_step, measure_rows,
                                                previous_state, sha256_file)


@dataclass(frozen=True)
class BenchmarkRequest:
    """data: a test set with ground truth; out_dir: models, outputs and reports; the model: a
    checkpoint or an ONNX export (neither: the bundled model); shape: BxCxHxW of the latency runs;
    build_engines: None builds engines where TensorRT and a GPU are present."""
    data: str | os.PathLike
    out_dir: str | os.PathLike
    checkpoint: str | os.PathLike | None = None
    onnx: str | os.PathLike | None = None
    shape: tuple[int, int, int, int] = (1, 3, 384, 512)
    precisions: tuple[str, ...] = NAMES
    calib_images: str | os.PathLike | None = None
    calib_count: int = 32
    calib_size: tuple[int, int] | None = None  # None: a fixed-size graph's own HxW, else 256x256
    warmup: int = 2
    iterations: int = 10
    limit: int | None = None
    threads: int | None = None
    device: str = "cpu"
    build_engines: bool | None = None
    progress: bool = False
    size_option: str = field(default="calib_size", compare=False)  # how errors name calib_size (the CLI: its flag)


def benchmark(request: BenchmarkRequest) -> Bench:
    for name in request.precisions:
        precisions_get(name, "precisions")
    settings = Settings(data=Path(request.data), out_dir=Path(request.out_dir), shape=tuple(request.shape),
                        precisions=tuple(request.precisions),
                        calib_images=None if request.calib_images is None else Path(request.calib_images),
                        calib_count=request.calib_count,
                        calib_size=None if request.calib_size is None else tuple(request.calib_size),
                        warmup=request.warmup, iterations=request.iterations, limit=request.limit,
                        threads=request.threads, device=request.device, build_engines=request.build_engines,
                        progress=request.progress)
    return run_benchmark(settings, checkpoint=request.checkpoint, onnx=request.onnx, size_option=request.size_option)


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


def prepare_graph(src: Path, precision: str, s: Settings, state: dict) -> Path:
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


def engines_absent(s: Settings) -> str | None:
    """Why this run builds no engines, in one line (None: it builds them): build_engines False, or
    (build_engines None) no TensorRT, no CUDA binding, a binding that cannot reach the driver,
    no GPU."""
    if s.build_engines is False:
        return "--no-engines"
    if s.build_engines:
        return None
    from ifan_trt.runtime.executors.backends import engines_unavailable

    return engines_unavailable()


def build_engine(graph: Path, precision: str, s: Settings, max_hw: tuple[int, int]) -> Path:
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


def plan_models(src: Path, s: Settings, state: dict) -> list[Model]:
    """Every model of the run: the ONNX graph of each precision (ONNX Runtime) and, where
    TensorRT and a GPU are present, an engine of each TensorRT precision."""
    from tqdm import tqdm

    models = []
    engines = bool(s.build_engines)
    for precision in tqdm(s.precisions, desc="prepare", unit="model", disable=not s.progress, file=sys.stderr):
        graph = prepare_graph(src, precision, s, state)
        models.append(Model("onnx", precision, graph, "onnxruntime"))
        if engines and BY_NAME[precision].buildable:
            models.append(Model("engine", precision, build_engine(graph, precision, s, _max_hw(s)), "tensorrt"))
    return models


def _max_hw(s: Settings) -> tuple[int, int]:
    from ifan_trt.imageio import read_image

    sizes = [read_image(p.source).size for p in data_pairs(s)]
    pad = lambda n: -(-n // 8) * 8
    return pad(max(h for h, _ in sizes)), pad(max(w for _, w in sizes))


def run_benchmark(s: Settings, checkpoint: str | None = None, onnx: str | None = None,
                  size_option: str = "calib_size") -> Bench:
    """Prepare every model, then measure each row (reusing finished rows)."""
    s.out_dir.mkdir(parents=True, exist_ok=True)
    s.calib_images = s.calib_images or s.data
    s.precisions = ("fp32",) + tuple(p for p in dict.fromkeys(s.precisions) if p != "fp32")  # FP32 first: the reference
    data_pairs(s)  # the data set and the named model are checked before any work
    src = fp32_source(checkpoint, onnx, s.out_dir)
    from ifan_trt.calib.images import graph_size
    from ifan_trt.export.graph import load_model

    s.calib_size = graph_size(load_model(src), s.calib_size, (256, 256), size_option)  # a fixed-size export's own
    previous = previous_state(s)
    state = previous.get("prepared", {})
    absent = engines_absent(s)
    s.build_engines = absent is None
    models = plan_models(src, s, state)
    return measure_rows(models, s, src, previous, state, absent)
