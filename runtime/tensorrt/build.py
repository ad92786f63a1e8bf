"""The TensorRT steps of an engine build (`ifan build`, `build_engine.py`): probe the installed
TensorRT, parse, configure, build, inspect, write the plan and its sidecar.

One code path for TensorRT 10.x and 11.x: the network is strongly typed and no precision flag
is set (TensorRT 11 has none); precision comes from the graph, prepared on the CPU beforehand
(ifan_trt.calib.prepare.graph_for: FP16 casts and initializers, INT8 Q/DQ). Parsing, configuration and the build go through
polygraphy's loaders (network_from_onnx_path, CreateConfig, engine_bytes_from_network), which
probe what the installed TensorRT offers. Every TensorRT call used here exists in both the 10.3
and 11.1 Python APIs.

After the build the plan is deserialised and IEngineInspector reports the precision each layer
got; the engine is written atomically with a JSON sidecar (<engine>.json) that the runtime reads.
TensorRT, polygraphy and the plugin loader are imported only when a build runs: --help and the
option checks work without them.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from ifan_trt.contract import META
from ifan_trt.errors import IfanError
from ifan_trt.log import get as get_logger
from ifan_trt.table import format_table

from .inspect import engine_information, engine_information_in_child, layer_precisions, summary, unexpected_fp32
from ifan_trt.runtime.model_files.optimization_profiles import profiles_to_sidecar
from ifan_trt.runtime.model_files.sidecar import Sidecar, sidecar_bytes, sidecar_path

log = get_logger(__name__)

MIN_TENSORRT = (10, 0)  # strongly typed networks and Q/DQ with FP16 scales
TESTED_MAJORS = (10, 11)


# ---------------------------------------------------------------- TensorRT and the request

def import_tensorrt():
    from .importing import import_tensorrt as owner

    return owner("build engines on the target machine")


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
    warnings = []
    if version[0] not in TESTED_MAJORS:
        warnings.append(f"TensorRT {v} is newer than the versions ifan-trt was written for (10.3 to 11.x)")
    if version_compatible and has_plugin:
        warnings.append("version-compatible engine with a plugin: the plugin library is serialised into the plan; "
                        "the runtime must allow host code (IRuntime.engine_host_code_allowed)")
    return warnings


def strongly_typed_support(trt) -> tuple[bool, bool]:
    """(every network can be strongly typed, the creation flag must be passed for it). TensorRT 11
    builds every network strongly typed and deprecates (and may drop) the flag; 10.x needs it."""
    has_flag = hasattr(getattr(trt, "NetworkDefinitionCreationFlag", None), "STRONGLY_TYPED")
    if parse_version(trt.__version__)[0] >= 11:
        return True, False
    return has_flag, has_flag


def graph_inputs(model) -> list[tuple[str, list]]:
    """(name, dims) of the graph inputs; a dim is an int, or its symbolic name when dynamic."""
    from ifan_trt.export.graph import input_dims

    return input_dims(model)


# ---------------------------------------------------------------- facts for the sidecar

def gpu_info() -> dict:
    """Name, compute capability and CUDA binding of GPU 0 (.cuda); "unknown" with the reason."""
    from .cuda import gpu_info as device_info

    return device_info(0)


# ---------------------------------------------------------------- TensorRT steps

def build_plan(trt, onnx_path: Path, profiles, inputs: list[str], workspace: int, optimization_level,
               version_compatible: bool, plugin_lib: Path | None, timing_cache: Path | None,
               tf32: bool = True, dla: dict | None = None) -> bytes:
    """Parse (strongly typed), configure and build with polygraphy's loaders; the serialised plan.
    polygraphy's network_from_onnx_path(strongly_typed=True) creates the network with
    1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED) on 10.x (11.x networks are strongly
    typed without it) and sets no precision flag. TF32 is
    passed explicitly: CreateConfig clears TensorRT's (default-on) TF32 flag unless told tf32=True.
    dla: {"core": N} to build for that DLA core with GPU fallback (configure_dla); the layers DLA
    can take are added to it as "eligible_layers"."""
    from ifan_trt.optional import require

    require("polygraphy", "trt")
    from polygraphy.backend.trt import (CreateConfig, PostprocessConfig, Profile, engine_bytes_from_network,
                                        network_from_onnx_path)
    from polygraphy.exception import PolygraphyException
    from polygraphy.logger import G_LOGGER

    from ifan_trt.noise import is_verbose

    G_LOGGER.module_severity = G_LOGGER.INFO if is_verbose() else G_LOGGER.ERROR  # TensorRT's log too

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
        tf32=tf32,
        profiling_verbosity=trt.ProfilingVerbosity.DETAILED,  # the inspector's per-layer types
    )
    def postprocess(builder, network, cfg):
        if version_compatible and plugin_lib is not None:
            cfg.plugins_to_serialize = [str(plugin_lib)]
        if dla is not None:
            dla["eligible_layers"] = configure_dla(trt, network, cfg, dla["core"])

    if (version_compatible and plugin_lib is not None) or dla is not None:
        config = PostprocessConfig(config, postprocess)
    try:
        network = network_from_onnx_path(str(onnx_path), strongly_typed=strongly_typed_support(trt)[1])
        plan = engine_bytes_from_network(network, config,
                                         save_timing_cache=str(timing_cache) if timing_cache is not None else None)
    except PolygraphyException as exc:
        raise IfanError(f"{onnx_path}: TensorRT build failed: {str(exc).strip().splitlines()[-1]}") from None
    if not plan:
        raise IfanError(f"{onnx_path}: TensorRT returned no engine (see TensorRT's log above)")
    return bytes(plan)


# ---------------------------------------------------------------- DLA (Jetson AGX Orin, Orin NX)

def dla_problem(core: int, cores: int) -> str | None:
    """Why --dla-core CORE cannot be built on a device with `cores` DLA cores, or None."""
    if cores <= 0:
        return (f"--dla-core {core}: this device has no DLA (TensorRT reports 0 DLA cores; Jetson AGX Orin and "
                "Orin NX have them, Orin Nano and desktop GPUs do not); build without --dla-core")
    if core >= cores:
        return f"--dla-core {core}: this device has {cores} DLA core(s), numbered 0 to {cores - 1}"
    return None


def check_dla(trt, core: int, precision: str) -> None:
    """Refuse --dla-core before any preparation where the device has no such DLA core
    (IBuilder.num_DLA_cores, TensorRT 10.3 and 11.x); warn where nothing would run there."""
    builder = trt.Builder(trt.Logger(trt.Logger.WARNING))
    problem = dla_problem(core, int(builder.num_DLA_cores))
    if problem:
        raise IfanError(problem)
    if precision == "fp32":
        log.warning("--dla-core with an FP32 engine: the DLA runs FP16 and INT8 layers only, so every layer falls "
                    "back to the GPU; use --precision fp16 or int8")


def configure_dla(trt, network, config, core: int) -> list[str]:
    """Every layer on DLA core `core` by default, the rest on the GPU (GPU_FALLBACK): what DLA
    cannot run (the IFAN_IAC plugin never does; FP32 layers neither, DLA runs FP16 and INT8).
    Returns the layers IBuilderConfig.can_run_on_DLA accepts."""
    config.default_device_type = trt.DeviceType.DLA
    config.DLA_core = int(core)
    config.set_flag(trt.BuilderFlag.GPU_FALLBACK)
    layers = [network.get_layer(i) for i in range(network.num_layers)]
    return [layer.name for layer in layers if config.can_run_on_DLA(layer)]


def dla_layers(layers) -> list[str]:
    """The layers of a built engine that run on the DLA, from the inspector's per-layer JSON:
    TensorRT reports each DLA subgraph as one layer whose type or name says DLA."""
    return [lp.name for lp in layers if "DLA" in lp.layer_type.upper() or "DLA" in lp.name.upper()]


def inspect_plan(trt, plan: bytes, version_compatible: bool, embedded_plugin: bool = False):
    """Per-layer precisions of a plan (deserialised once, with IEngineInspector); in a child
    process when the plan embeds the plugin this process has registered (.inspect)."""
    if version_compatible and embedded_plugin:
        return layer_precisions(engine_information_in_child(plan))
    return layer_precisions(engine_information(trt, plan, version_compatible))


def _sha256(path: Path) -> str:
    from ifan_trt.files import sha256_file

    return sha256_file(path)


def write_engine(output: Path, plan: bytes, sidecar: dict, overwrite: bool = True) -> None:
    from ifan_trt.files import write_bytes

    data = sidecar_bytes(sidecar)  # validated before anything is written
    write_bytes(output, plan, overwrite)
    write_bytes(sidecar_path(output), data, overwrite)




def probe_tensorrt(precision: str, has_plugin: bool, version_compatible: bool, optimization_level: int | None):
    """The tensorrt module, after refusing what it cannot build; warnings go to stderr."""
    from ifan_trt.optional import require

    trt = import_tensorrt()
    require("polygraphy", "trt")  # before any long preparation
    version = parse_version(trt.__version__)
    strongly = strongly_typed_support(trt)[0]
    for w in check_request(version, precision, has_plugin, version_compatible, optimization_level, strongly):
        log.warning(w)
    return trt


def report_layers(layers, precision: str, on_dla: list[str] | None = None) -> dict:
    """Print every layer's precision (and device, when built for a DLA) and a warning for compute
    layers left in FP32; the counts."""
    counts = summary(layers)
    if on_dla is None:
        log.info(format_table(["layer", "type", "precision"], [[lp.name, lp.layer_type, lp.precision] for lp in layers]))
    else:
        dla = set(on_dla)
        log.info(format_table(["layer", "type", "precision", "device"],
                              [[lp.name, lp.layer_type, lp.precision, "DLA" if lp.name in dla else "GPU"]
                               for lp in layers]))
    log.info("layer precisions: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    slow = unexpected_fp32(layers, precision)
    if slow:
        log.warning(f"{precision} was asked for but {len(slow)} compute layer(s) run in FP32: "
                    + ", ".join(lp.name for lp in slow[:8]) + (" ..." if len(slow) > 8 else ""))
    return counts


def build_engine(trt, *, onnx_path: Path, output: Path, precision: str, profiles, inputs: list[str],
                 source_onnx: Path, metadata: dict, workspace: int, plugin_lib: Path | None,
                 optimization_level: int | None, version_compatible: bool, timing_cache: Path | None,
                 tf32: bool = True, overwrite: bool = True, iac_split: bool = False,
                 peak_live_bytes: dict | None = None, dla_core: int | None = None) -> dict:
    """Build onnx_path (already of the wanted precision and IAC form), write the engine and its
    sidecar (iac_split and peak_live_bytes: the form built and the peaks it was chosen by); the
    sidecar as written."""
    from ifan_trt.files import sha256_bytes

    start = time.time()
    log.info(f"building {precision} engine from {onnx_path} with TensorRT {trt.__version__} "
             f"({len(profiles)} profile(s))")
    dla = None if dla_core is None else {"core": int(dla_core), "gpu_fallback": True}
    plan = build_plan(trt, onnx_path, profiles, inputs, workspace, optimization_level,
                      version_compatible, plugin_lib, timing_cache, tf32=tf32, **({"dla": dla} if dla else {}))
    seconds = time.time() - start
    layers = inspect_plan(trt, plan, version_compatible, embedded_plugin=plugin_lib is not None)
    if dla is not None:
        dla["layers_on_dla"] = dla_layers(layers)
        dla["eligible_layers"] = len(dla.get("eligible_layers") or [])
        log.info(f"DLA core {dla['core']} with GPU fallback: {len(dla['layers_on_dla'])} engine layer(s) on the DLA "
                 f"({dla['eligible_layers']} network layer(s) it accepts); the rest, the IFAN_IAC plugin included, "
                 "on the GPU")
    counts = report_layers(layers, precision, None if dla is None else dla["layers_on_dla"])
    gpu = gpu_info()
    if gpu.get("reason"):
        log.warning(f"the sidecar cannot name the GPU: {gpu['reason']}")
    builder = {"strongly_typed": True, "workspace_bytes": workspace, "builder_optimization_level": optimization_level,
               "version_compatible": version_compatible, "tf32": tf32,
               "timing_cache": None if timing_cache is None else str(timing_cache)}
    sidecar = Sidecar(
        engine=output, engine_sha256=sha256_bytes(plan), tensorrt_version=str(trt.__version__),
        gpu=gpu, precision=precision, profiles=profiles_to_sidecar(profiles, inputs), inputs=inputs,
        onnx_path=onnx_path, onnx_sha256=_sha256(onnx_path), source_onnx=source_onnx, plugin_lib=plugin_lib,
        plugin_sha256=_sha256(plugin_lib) if plugin_lib else None, builder=builder, build_seconds=seconds,
        metadata={**metadata, META.precision: precision}, layers=counts, iac_split=iac_split,
        peak_live_bytes=peak_live_bytes, dla=dla)
    written = sidecar.as_dict()
    write_engine(output, plan, written, overwrite)
    log.info(f"wrote {output} ({len(plan) / 1e6:.1f} MB, {seconds:.0f} s) and {output}.json")
    return written
