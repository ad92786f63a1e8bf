"""`ifan benchmark`: every precision of one model in one table. This command prepares the models
(the graphs as `ifan fp16` / `ifan calibrate` make them, engines as `ifan build` makes them where
TensorRT and a GPU are present); ifan_trt.runtime.benchmark runs them and writes the reports."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from ifan_trt.errors import IfanError
from ifan_trt.log import get as get_logger
from ifan_trt.options import nonneg_int, positive_int
from ifan_trt.precisions import BY_NAME, graph_file
from ifan_trt.runtime.benchmark import (PRECISIONS, Bench, Model, Settings, data_pairs, measure_rows,
                                        previous_state, sha256_file, content_key, log_step)

from . import args as arg_groups



def register(subparsers) -> None:
    p = arg_groups.add_command(subparsers, "benchmark", "every precision of a model: size, latency, PSNR/SSIM in one table",
                               "Prepare FP32, FP16, INT8, INT8+FP16 and CPU-INT8 graphs of one model (and TensorRT "
                               "engines where TensorRT and a GPU are present), run each, and write one table: "
                               "terminal, benchmark.md, benchmark.csv, benchmark.json, benchmark.png. Finished rows "
                               "are reused.", run)
    arg_groups.add_model(p, kinds=("checkpoint", "onnx"), backend=False, device="cpu", checkpoint_options=False,
                         description="none given: the bundled model; a checkpoint is exported first")
    p.add_argument("--data", required=True, type=Path,
                   help="test set with ground truth: source/target (as `ifan synth` writes), DPDD or RealDOF")
    arg_groups.add_size(p, "--shape", "latency shape", "1x3x384x512", metavar="BxCxHxW")
    p.add_argument("--precisions", nargs="+", choices=PRECISIONS, default=list(PRECISIONS),
                   help="precisions to prepare and run (default: all; fp32 always runs, it is the reference)")
    p.add_argument("--out-dir", required=True, type=Path, help="folder for the models, outputs and reports")
    arg_groups.add_calibration(p, images_help="calibration/measurement images (default: --data's sources; better "
                                              "a separate set)", count=32, method=False)
    p.add_argument("--warmup", type=nonneg_int, default=2, help="untimed runs first (default %(default)s)")
    p.add_argument("--iterations", type=positive_int, default=10, help="timed runs per model (default %(default)s)")
    p.add_argument("--limit", type=positive_int, help="only the first N image pairs")
    p.add_argument("--no-engines", action="store_true", help="skip TensorRT engines even where a GPU is present")
    arg_groups.add_json(p, "benchmark.json's content")
    arg_groups.add_overwrite(p)


def run(args) -> int:
    from ifan_trt.runtime.benchmark import HEADER, caption, table_rows, write_reports
    from ifan_trt.sizes import parse_model_size, parse_tensor_shape
    from ifan_trt.table import format_table

    if args.out_dir.exists() and not args.out_dir.is_dir():
        raise IfanError(f"{args.out_dir}: exists and is not a folder (--out-dir)")
    arg_groups.check_json(args, [args.onnx, args.checkpoint, args.out_dir / "benchmark.json"], [args.data])
    settings = Settings(data=args.data, out_dir=args.out_dir, shape=parse_tensor_shape(args.shape, "--shape"),
                        precisions=tuple(args.precisions), calib_images=args.calib_images,
                        calib_count=args.calib_count, calib_size=parse_model_size(args.calib_size, "--calib-size"), warmup=args.warmup,
                        iterations=args.iterations, limit=args.limit, threads=args.threads, device=args.device,
                        build_engines=False if args.no_engines else None, progress=sys.stderr.isatty())
    bench = run_benchmark(settings, checkpoint=args.checkpoint, onnx=args.onnx)
    print(format_table(list(HEADER), table_rows(bench)))
    print(caption(bench))
    reused = sum(bool(r.get("reused")) for r in bench.rows)
    if reused:
        print(f"{reused} row(s) reused from the previous run (same model files, data and settings)")
    png = importlib.util.find_spec("matplotlib") is not None
    if not png:
        get_logger(__name__).warning("no PNG without matplotlib (pip install 'ifan-trt[plot]')")
    for path in write_reports(bench, png):
        print(f"wrote {path}")
    if args.json:
        from ifan_trt.files import write_bytes

        write_bytes(args.json, (args.out_dir / "benchmark.json").read_bytes(), overwrite=args.overwrite)
    return 0


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


def engines_available() -> bool:
    """TensorRT installed and a GPU present (probed without importing TensorRT here)."""
    if importlib.util.find_spec("tensorrt") is None:
        return False
    from ifan_trt.runtime.tensorrt.cuda import gpu_count

    return gpu_count() > 0


def build_engine(graph: Path, precision: str, s: Settings, max_hw: tuple[int, int]) -> Path:
    """An engine of the prepared graph (strongly typed, precision from the graph), one profile
    from 64x64 to the largest data image, optimised for the benchmark shape; `ifan build` makes it."""
    import argparse

    from . import build

    out = graph.with_suffix(".engine")
    b, c, h, w = s.shape
    big = (max(h, max_hw[0]), max(w, max_hw[1]))
    parser = argparse.ArgumentParser(prog="ifan build")
    build.add_arguments(parser)
    shapes = f"min=1x{c}x64x64,opt={b}x{c}x{h}x{w},max={b}x{c}x{big[0]}x{big[1]}"
    if build.run(parser.parse_args(["--onnx", str(graph), "-o", str(out), "--shapes", shapes])) != 0:
        raise IfanError(f"{graph}: the {precision} engine build failed")
    return out


def plan_models(src: Path, s: Settings, state: dict) -> list[Model]:
    """Every model of the run: the ONNX graph of each precision (ONNX Runtime) and, where
    TensorRT and a GPU are present, an engine of each TensorRT precision."""
    from tqdm import tqdm

    models = []
    engines = engines_available() if s.build_engines is None else s.build_engines
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


def run_benchmark(s: Settings, checkpoint: str | None = None, onnx: str | None = None) -> Bench:
    """Prepare every model, then measure each row (reusing finished rows)."""
    s.out_dir.mkdir(parents=True, exist_ok=True)
    s.calib_images = s.calib_images or s.data
    s.precisions = ("fp32",) + tuple(p for p in dict.fromkeys(s.precisions) if p != "fp32")  # FP32 first: the reference
    previous = previous_state(s)
    state = previous.get("prepared", {})
    src = fp32_source(checkpoint, onnx, s.out_dir)
    models = plan_models(src, s, state)
    return measure_rows(models, s, src, previous, state)
