"""Build a TensorRT engine from an IFAN ONNX export: `build_engine.py` and `ifan build`.

One code path for TensorRT 10.x and 11.x: the network is strongly typed and no precision flag
is set (TensorRT 11 has none); precision comes from the graph, prepared on the CPU by
ifan_trt.calib (FP16 casts and initializers, INT8 Q/DQ). --precision picks a graph of that
precision or prepares it from the FP32 export. Parsing, configuration and the build go through
polygraphy's loaders (network_from_onnx_path, CreateConfig, engine_bytes_from_network), which
probe what the installed TensorRT offers. Every TensorRT call used here exists in both the 10.3
and 11.1 Python APIs.

After the build the plan is deserialised and IEngineInspector reports the precision each layer
got; the engine is written atomically with a JSON sidecar (<engine>.json) that the runtime reads.
TensorRT, polygraphy and the plugin loader are imported only when a build runs: --help and the
option checks work without them.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

from ifan_trt import __version__
from ifan_trt.errors import IfanError
from ifan_trt.options import add_decode_budget, int_range, positive_int

from .engine_inspect import layer_precisions, summary, unexpected_fp32
from .engine_profiles import DEFAULT_SHAPES, check_against_graph, parse_profiles, profiles_to_sidecar

PRECISIONS = ("fp32", "fp16", "int8", "int8-fp16")
MIN_TENSORRT = (10, 0)  # strongly typed networks and Q/DQ with FP16 scales
TESTED_MAJORS = (10, 11)
SIDECAR_FORMAT = "ifan-trt engine sidecar 1"
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)


# ---------------------------------------------------------------- options

def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--onnx", type=Path, required=True, help="IFAN ONNX export (FP32, or already FP16/INT8)")
    p.add_argument("-o", "--output", type=Path, required=True,
                   help="engine file to write (a .json sidecar goes beside it)")
    p.add_argument("--precision", choices=PRECISIONS,
                   help="engine precision; an FP32 graph is converted first (default: the graph's own)")
    p.add_argument("--calib-images", type=Path,
                   help="images for INT8 calibration (and FP16 measurement; default there: the bundled samples)")
    p.add_argument("--calib-method", default="percentile", choices=("entropy", "percentile", "minmax"),
                   help="INT8 range method (default: %(default)s)")
    p.add_argument("--calib-count", type=positive_int, default=32, help="INT8 calibration images (default: %(default)s)")
    p.add_argument("--calib-size", default="256x256", help="INT8 calibration crop HxW (default: %(default)s)")
    p.add_argument("--shapes", action="append", metavar="min=NxCxHxW,opt=...,max=...",
                   help=f"one optimisation profile (repeat for more); HxW means batch 1 (default: {DEFAULT_SHAPES})")
    p.add_argument("--plugin-lib", type=Path,
                   help="IFAN_IAC plugin library (default: searched, see ifan_trt.runtime.plugin_library)")
    p.add_argument("--workspace", default="2G", help="builder workspace limit, e.g. 512M, 4G (default: %(default)s)")
    p.add_argument("--timing-cache", type=Path, help="timing cache file: read if present, updated after the build")
    p.add_argument("--builder-optimization-level", type=int_range(0, 5), metavar="0-5",
                   help="TensorRT builder optimisation level (TensorRT's default: 3)")
    p.add_argument("--version-compatible", action="store_true",
                   help="version-compatible engine; the plugin library is serialised into the plan")
    p.add_argument("--overwrite", action="store_true", help="replace an existing engine and its sidecar")
    add_decode_budget(p)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="build_engine.py", description=__doc__.split("\n\n")[0])
    add_arguments(p)
    return p


def parse_workspace(text: str) -> int:
    """'512M', '4G', '1.5g', plain numbers in MiB -> bytes."""
    m = _SIZE.match(str(text))
    if not m:
        raise IfanError(f"--workspace {text!r}: expected a size such as 512M or 4G")
    value, unit = float(m.group(1)), (m.group(2) or "m").lower()
    size = int(value * {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[unit])
    if size < (1 << 20):
        raise IfanError(f"--workspace {text}: at least 1M")
    return size


# ---------------------------------------------------------------- TensorRT and the request

def import_tensorrt():
    try:
        import tensorrt as trt
    except (ImportError, OSError) as exc:
        raise IfanError("TensorRT is not installed or not loadable "
                        f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no module'}); "
                        "build engines on the target machine: pip install 'ifan-trt[trt]' (or JetPack 6 on Jetson)"
                        ) from None
    return trt


def parse_version(text: str) -> tuple[int, int, int]:
    parts = [int(p) for p in re.findall(r"\d+", str(text))[:3]]
    if not parts:
        raise IfanError(f"tensorrt: cannot read the version {text!r}")
    return tuple((parts + [0, 0])[:3])


def check_request(version: tuple[int, int, int], precision: str, has_plugin: bool, version_compatible: bool,
                  optimization_level: int | None, has_strongly_typed: bool = True) -> list[str]:
    """Refuse what the installed TensorRT cannot do (IfanError, one line); return warnings."""
    v = ".".join(map(str, version))
    if version[:2] < MIN_TENSORRT or not has_strongly_typed:
        raise IfanError(f"TensorRT {v}: strongly typed networks need TensorRT 10.0 or newer "
                        f"(ifan-trt builds 10.3 to 11.x); upgrade TensorRT")
    if optimization_level is not None and not 0 <= optimization_level <= 5:
        raise IfanError(f"--builder-optimization-level {optimization_level}: TensorRT {v} accepts 0 to 5")
    if precision not in PRECISIONS:
        raise IfanError(f"--precision {precision}: expected one of {', '.join(PRECISIONS)}")
    warnings = []
    if version[0] not in TESTED_MAJORS:
        warnings.append(f"TensorRT {v} is newer than the versions ifan-trt was written for (10.3 to 11.x)")
    if version_compatible and has_plugin:
        warnings.append("version-compatible engine with a plugin: the plugin library is serialised into the plan; "
                        "the runtime must allow host code (IRuntime.engine_host_code_allowed)")
    return warnings


# ---------------------------------------------------------------- the graph

def graph_precision(model) -> str:
    """The graph's precision: its ifan.precision metadata, else what its nodes show."""
    from onnx import TensorProto

    meta = {p.key: p.value for p in model.metadata_props}
    if meta.get("ifan.precision") in PRECISIONS:
        return meta["ifan.precision"]
    qdq = any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in model.graph.node)
    half = any(t.data_type == TensorProto.FLOAT16 for t in model.graph.initializer)
    return ("int8-fp16" if half else "int8") if qdq else ("fp16" if half else "fp32")


def prepared_path(output: Path, onnx_path: Path, precision: str) -> Path:
    """Where a prepared graph goes: beside the engine, named after the source export."""
    return output.with_name(f"{onnx_path.stem}.{precision}.onnx")


def select_graph(args, progress: bool = True) -> tuple[Path, str]:
    """(graph to build, its precision): the --onnx graph when it has the requested precision, a
    previously prepared graph beside the engine, or one prepared now from the FP32 export."""
    from ifan_trt.calib import graphs, images, prepare

    model = graphs.load_model(args.onnx)
    have = graph_precision(model)
    want = args.precision or have
    if want == have:
        return args.onnx, have
    if have != "fp32":
        raise IfanError(f"{args.onnx}: is a {have} graph; --precision {want} needs the FP32 export")
    target = prepared_path(args.output, args.onnx, want)
    if target.is_file() and target.stat().st_mtime >= args.onnx.stat().st_mtime:
        existing = graphs.load_model(target)
        source_sha = {p.key: p.value for p in model.metadata_props}.get("ifan.checkpoint_sha256")
        target_meta = {p.key: p.value for p in existing.metadata_props}
        if graph_precision(existing) == want and target_meta.get("ifan.checkpoint_sha256") == source_sha:
            print(f"using the {want} graph prepared earlier: {target}", file=sys.stderr)
            return target, want
    if want == "fp16":
        prepare.make_fp16(args.onnx, target, args.calib_images, progress=progress)
    else:
        if args.calib_images is None:
            raise IfanError(f"--precision {want}: needs --calib-images DIR (INT8 calibration images)")
        prepare.make_int8(args.onnx, target, args.calib_images, args.calib_method, args.calib_count,
                          images.parse_size(args.calib_size), target.with_name(f"{target.stem}.calib.json"),
                          fp16=(want == "int8-fp16"), progress=progress)
    return target, want


def graph_inputs(model) -> list[tuple[str, list]]:
    """(name, dims) of the graph inputs; a dim is an int, or its symbolic name when dynamic."""
    inits = {t.name for t in model.graph.initializer}
    out = []
    for i in model.graph.input:
        if i.name in inits:
            continue
        dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in i.type.tensor_type.shape.dim]
        out.append((i.name, dims))
    return out


# ---------------------------------------------------------------- facts for the sidecar

def gpu_info() -> dict:
    """Name and compute capability of GPU 0 via cuda-python; "unknown" where it is missing."""
    try:
        try:
            from cuda.bindings import runtime as cudart
        except ImportError:
            from cuda import cudart
        status, prop = cudart.cudaGetDeviceProperties(0)
        if int(status) != 0:
            raise RuntimeError(str(status))
        name = prop.name.decode(errors="replace") if isinstance(prop.name, bytes) else str(prop.name)
        return {"name": name.strip("\x00 "), "compute_capability": f"{prop.major}.{prop.minor}"}
    except Exception:
        return {"name": "unknown", "compute_capability": "unknown"}


def make_sidecar(*, engine: Path, engine_sha256: str, trt_version: str, gpu: dict, precision: str,
                 profiles: list, inputs: list[str], onnx_path: Path, onnx_sha256: str, source_onnx: Path,
                 plugin_lib: Path | None, plugin_sha256: str | None, workspace: int, optimization_level: int | None,
                 version_compatible: bool, timing_cache: Path | None, build_seconds: float,
                 metadata: dict, layers: dict | None) -> dict:
    return {
        "format": SIDECAR_FORMAT,
        "engine": engine.name,
        "engine_sha256": engine_sha256,
        "tensorrt_version": trt_version,
        "gpu": gpu,
        "precision": precision,
        "profiles": profiles_to_sidecar(profiles, inputs),
        "inputs": inputs,
        "onnx": {"path": str(onnx_path), "sha256": onnx_sha256, "source": str(source_onnx)},
        "plugin_library": None if plugin_lib is None else {"path": str(plugin_lib), "sha256": plugin_sha256},
        "builder": {"strongly_typed": True, "workspace_bytes": workspace,
                    "builder_optimization_level": optimization_level, "version_compatible": version_compatible,
                    "timing_cache": None if timing_cache is None else str(timing_cache)},
        "build_seconds": round(build_seconds, 3),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "tool_version": __version__,
        "metadata": dict(metadata),
        "layer_precisions": layers,
    }


# ---------------------------------------------------------------- TensorRT steps

def build_plan(trt, onnx_path: Path, profiles, inputs: list[str], workspace: int, optimization_level,
               version_compatible: bool, plugin_lib: Path | None, timing_cache: Path | None) -> bytes:
    """Parse (strongly typed), configure and build with polygraphy's loaders; the serialised plan.
    polygraphy's network_from_onnx_path(strongly_typed=True) creates the network with
    1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED) and sets no precision flag."""
    from ifan_trt.calib.graphs import require

    require("polygraphy", "trt")
    from polygraphy.backend.trt import (CreateConfig, PostprocessConfig, Profile, engine_bytes_from_network,
                                        network_from_onnx_path)
    from polygraphy.exception import PolygraphyException

    trt_profiles = []
    for p in profiles:
        prof = Profile()
        for name in inputs:
            prof.add(name, min=p.min, opt=p.opt, max=p.max)
        trt_profiles.append(prof)
    config = CreateConfig(
        profiles=trt_profiles,
        memory_pool_limits={trt.MemoryPoolType.WORKSPACE: workspace},
        load_timing_cache=str(timing_cache) if timing_cache is not None and timing_cache.is_file() else None,
        builder_optimization_level=optimization_level,
        version_compatible=version_compatible or None,
        profiling_verbosity=trt.ProfilingVerbosity.DETAILED,  # the inspector's per-layer types
    )
    if version_compatible and plugin_lib is not None:
        def serialize_plugin(builder, network, cfg):
            cfg.plugins_to_serialize = [str(plugin_lib)]

        config = PostprocessConfig(config, serialize_plugin)
    try:
        network = network_from_onnx_path(str(onnx_path), strongly_typed=True)
        plan = engine_bytes_from_network(network, config,
                                         save_timing_cache=str(timing_cache) if timing_cache is not None else None)
    except PolygraphyException as exc:
        raise IfanError(f"{onnx_path}: TensorRT build failed: {str(exc).strip().splitlines()[-1]}") from None
    if not plan:
        raise IfanError(f"{onnx_path}: TensorRT returned no engine (see TensorRT's log above)")
    return bytes(plan)


def inspect_plan(trt, plan: bytes, version_compatible: bool):
    """Per-layer precisions of a plan (deserialised once, with IEngineInspector)."""
    runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
    if version_compatible:
        runtime.engine_host_code_allowed = True  # the plan embeds the lean runtime (and plugin)
    engine = runtime.deserialize_cuda_engine(plan)
    if engine is None:
        raise IfanError("the engine just built does not deserialise (see TensorRT's log above)")
    inspector = engine.create_engine_inspector()
    return layer_precisions(inspector.get_engine_information(trt.LayerInformationFormat.JSON))


def _sha256(path: Path) -> str:
    from .files import sha256_file

    return sha256_file(path)


def write_engine(output: Path, plan: bytes, sidecar: dict, overwrite: bool = True) -> None:
    from .files import write_bytes

    write_bytes(output, plan, overwrite)
    write_bytes(Path(f"{output}.json"), json.dumps(sidecar, indent=1) + "\n", overwrite)


def check_build_outputs(args) -> None:
    """Before any preparation: the engine and its sidecar are new (or --overwrite) and no input."""
    from .files import check_not_input, check_output_file, require_regular_file, same_file

    if not args.onnx.exists():
        raise IfanError(f"{args.onnx}: no such ONNX file")
    require_regular_file(args.onnx, "--onnx")
    if same_file(args.output, args.onnx):
        raise IfanError(f"{args.output}: is the input ONNX; choose another engine path")
    inputs = [args.onnx, args.plugin_lib, args.timing_cache]
    for path in (args.output, Path(f"{args.output}.json")):
        check_not_input(path, inputs, [args.calib_images])
        check_output_file(path, getattr(args, "overwrite", False))


def run(args) -> int:
    from ifan_trt.calib import graphs
    from ifan_trt.calib.table import format_table

    # everything that needs no TensorRT is checked first: bad options fail fast anywhere
    profiles = parse_profiles(args.shapes)
    workspace = parse_workspace(args.workspace)
    check_build_outputs(args)
    source = graphs.load_model(args.onnx)
    if graphs.metadata(source).get("ifan.int8_target") == "cpu":
        raise IfanError(f"{args.onnx}: is the INT8 graph for ONNX Runtime's CPU provider (asymmetric UINT8); "
                        "TensorRT needs `ifan calibrate` without --target cpu")
    has_plugin = bool(graphs.plugin_nodes(source))
    inputs = graph_inputs(source)
    for name, dims in inputs:
        check_against_graph(profiles, name, dims)
    precision = args.precision or graph_precision(source)

    trt = import_tensorrt()
    graphs.require("polygraphy", "trt")  # before any long preparation
    version = parse_version(trt.__version__)
    strongly = hasattr(getattr(trt, "NetworkDefinitionCreationFlag", None), "STRONGLY_TYPED")
    for w in check_request(version, precision, has_plugin, args.version_compatible,
                           args.builder_optimization_level, strongly):
        print(f"warning: {w}", file=sys.stderr)

    onnx_path, precision = select_graph(args)
    plugin_lib = None
    if has_plugin or args.plugin_lib is not None:
        from ifan_trt.runtime.plugin_library import load_plugin

        plugin_lib = Path(load_plugin(args.plugin_lib))
    start = time.time()
    print(f"building {precision} engine from {onnx_path} with TensorRT {trt.__version__} "
          f"({len(profiles)} profile(s))", file=sys.stderr)
    plan = build_plan(trt, onnx_path, profiles, [n for n, _ in inputs], workspace, args.builder_optimization_level,
                      args.version_compatible, plugin_lib, args.timing_cache)
    seconds = time.time() - start
    layers = inspect_plan(trt, plan, args.version_compatible)
    counts = summary(layers)
    print(format_table(["layer", "type", "precision"], [[lp.name, lp.layer_type, lp.precision] for lp in layers]),
          file=sys.stderr)
    print("layer precisions: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())), file=sys.stderr)
    slow = unexpected_fp32(layers, precision)
    if slow:
        print(f"warning: {precision} was asked for but {len(slow)} compute layer(s) run in FP32: "
              + ", ".join(lp.name for lp in slow[:8]) + (" ..." if len(slow) > 8 else ""), file=sys.stderr)
    graph = graphs.load_model(onnx_path)
    sidecar = make_sidecar(
        engine=args.output, engine_sha256=graphs.sha256_bytes(plan), trt_version=str(trt.__version__),
        gpu=gpu_info(), precision=precision, profiles=profiles, inputs=[n for n, _ in inputs],
        onnx_path=onnx_path, onnx_sha256=_sha256(onnx_path), source_onnx=args.onnx, plugin_lib=plugin_lib,
        plugin_sha256=_sha256(plugin_lib) if plugin_lib else None, workspace=workspace,
        optimization_level=args.builder_optimization_level, version_compatible=args.version_compatible,
        timing_cache=args.timing_cache, build_seconds=seconds,
        metadata={**graphs.metadata(graph), "ifan.precision": precision}, layers=counts)
    write_engine(args.output, plan, sidecar, getattr(args, "overwrite", False))
    print(f"wrote {args.output} ({len(plan) / 1e6:.1f} MB, {seconds:.0f} s) and {args.output}.json", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """build_engine.py: `ifan build` through the CLI's one error boundary."""
    import sys

    from .cli import main as cli_main

    return cli_main(["build", *(sys.argv[1:] if argv is None else argv)])
