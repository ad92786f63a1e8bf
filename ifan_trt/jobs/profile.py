"""Profile models: end-to-end latency per stage (decode, preprocess, H2D, compute, D2H, postprocess)
of each model at each shape, on synthetic frames (runtime/measure/profiler.py), with the board's power where
it is readable, compared in one report (runtime/measure/profile_report.py). Engines that cannot run here
(no TensorRT, no GPU) are left out with the reason; the other models are still profiled."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path

from ifan_trt.progress import Bars
from ifan_trt.errors import IfanError
from ifan_trt.log import get as get_logger

from .requests import Naming, as_is

log = get_logger(__name__)

_BACKEND = {"onnx": "onnxruntime", "engine": "tensorrt", "checkpoint": "torch"}


@dataclass(frozen=True)
class ProfileRequest:
    """onnx, engine, checkpoint: the models (`default`: the bundled one), each on its own backend;
    shapes: BxCxHxW of the synthetic frames; iterations (None: 20) or duration (seconds) of timed
    runs after warmup; layers: the per-layer pass of engines; power: sample a Jetson's rails where
    readable; json, csv, png: the reports (out_dir: profile.json, .csv and .png there)."""
    onnx: tuple[str | os.PathLike, ...] = ()
    engine: tuple[str | os.PathLike, ...] = ()
    checkpoint: tuple[str | os.PathLike, ...] = ()
    shapes: tuple[tuple[int, int, int, int], ...] = ((1, 3, 720, 1280),)
    warmup: int = 3
    iterations: int | None = None
    duration: float | None = None
    layers: bool = True
    power: bool = True
    device: str = "auto"
    threads: int | None = None
    plugin: str | os.PathLike | None = None
    in_bit: int | None = None
    iac_mode: str | None = None
    json: str | os.PathLike | None = None
    csv: str | os.PathLike | None = None
    png: str | os.PathLike | None = None
    out_dir: str | os.PathLike | None = None
    overwrite: bool = False
    progress: Bars | None = field(default=None, compare=False)  # bars while each model is timed (ifan_trt.progress)
    names: Naming = field(default=as_is, compare=False)


@dataclass(frozen=True)
class ProfileReport:
    results: tuple  # one ifan_trt.runtime.measure.profiler.ProfileResult per model and shape
    skipped: dict  # {engine as given: why it could not run here}
    written: tuple[Path, ...]  # the report files

    def table(self) -> str:
        """The terminal table of every result (`ifan profile`'s)."""
        from ifan_trt.runtime.measure.profile_report import table

        return table(list(self.results))


def profile(request: ProfileRequest) -> ProfileReport:
    from ifan_trt.runtime.measure.profile_report import write_reports

    name = request.names
    if request.iterations is not None and request.duration is not None:
        raise IfanError(f"{name('iterations')} and {name('duration')}: give one")
    models = _models(request)
    reports = _report_paths(request, [m[0] for m in models])
    models, skipped = _runnable(models)
    results = _measure(request, models)
    if request.out_dir:
        Path(request.out_dir).mkdir(parents=True, exist_ok=True)
    written = write_reports(results, *reports, overwrite=request.overwrite, skipped=skipped)
    return ProfileReport(tuple(results), skipped, tuple(written))


def _measure(request: ProfileRequest, models: list) -> list:
    from ifan_trt.runtime.executors.backends import open_executor
    from ifan_trt.runtime.measure.profiler import profile as profile_one

    sampler, board = None, None
    if request.power:
        from ifan_trt.runtime.measure.power import board_state, open_sampler, state_line

        sampler = open_sampler()
        if sampler is not None:
            board = state_line(board_state())
            log.info(f"power: sampling {sampler.source} rails; {board}")
    results = []
    try:
        for label, (given, backend, model) in zip(_labels([m[0] for m in models]), models):
            with open_executor(backend, threads=request.threads, device=request.device, plugin=request.plugin,
                               in_bit=request.in_bit, iac_mode=request.iac_mode, **model) as executor:
                for shape in request.shapes:
                    text = "x".join(map(str, shape))
                    log.info(f"profiling {label} ({executor.describe()}) at {text}")
                    result = profile_one(executor, tuple(shape), label if len(request.shapes) == 1 else f"{label} @{text}",
                                         warmup=request.warmup, iterations=request.iterations or 20,
                                         duration=request.duration, layers=request.layers, progress=request.progress,
                                         power=sampler)
                    if result.power is not None:
                        result.power["board"] = board
                    results.append(result)
    finally:
        if sampler is not None:
            sampler.close()
    return results


def _models(request: ProfileRequest) -> list[tuple[str, str, dict]]:
    """(name as given, backend, open_executor's model argument) of every model, each checked
    before any work: the file exists and is readable (`default`: the bundled one), and an
    engine's sidecar is there and valid."""
    from ifan_trt.runtime.executors.backends import named_model
    from ifan_trt.runtime.model_files.sidecar import read_sidecar

    name = request.names
    models = []
    for kind in ("onnx", "engine", "checkpoint"):
        for given in getattr(request, kind):
            path = named_model(kind, given, name(kind))
            if kind == "engine":
                read_sidecar(path)
            models.append((str(given), _BACKEND[kind], {kind: path}))
    if not models:
        raise IfanError(f"nothing to profile: give {name('onnx')}, {name('engine')} or {name('checkpoint')}")
    if request.plugin is not None and not request.engine:
        raise IfanError(f"{name('plugin')}: applies to TensorRT engines only ({name('engine')})")
    return models


def _runnable(models: list) -> tuple[list, dict[str, str]]:
    """(the models that can run here, {engine: why not}): engines need TensorRT and a GPU; the
    reason is said once, and the other models are still profiled."""
    engines = [m[0] for m in models if m[1] == "tensorrt"]
    if not engines:
        return models, {}
    from ifan_trt.runtime.executors.backends import engines_unavailable

    why = engines_unavailable()
    if why is None:
        return models, {}
    runnable = [m for m in models if m[1] != "tensorrt"]
    if not runnable:
        raise IfanError(f"{', '.join(engines)}: cannot profile an engine here: {why}")
    log.warning(f"no engine rows ({', '.join(engines)}): {why}")
    return runnable, {given: why for given in engines}


def _labels(paths: list[str]) -> list[str]:
    """File names, or longer paths where names repeat."""
    names = [Path(p).name for p in paths]
    return [p if names.count(n) > 1 else n for p, n in zip(paths, names)]


def _report_paths(request: ProfileRequest, models: list[str]) -> tuple:
    """(json, csv, png) paths, checked before any model runs: new unless overwrite, no model."""
    from ifan_trt.files import check_not_input, check_output_file, check_output_folder

    name = request.names
    out = Path(request.out_dir) if request.out_dir else None
    if out is not None:
        check_output_folder(out, label=f"{name('out_dir')} {out}")
    pick = lambda given, file: given or (out / file if out else None)  # noqa: E731
    paths = [pick(request.json, "profile.json"), pick(request.csv, "profile.csv"), pick(request.png, "profile.png")]
    if paths[2] and not request.png and importlib.util.find_spec("matplotlib") is None:
        log.warning("no PNG without matplotlib (pip install 'ifan-trt[plot]')")
        paths[2] = None
    for i, (key, path) in enumerate(zip(("json", "csv", "png"), paths)):
        if path:
            check_not_input(path, models + [p for j, p in enumerate(paths) if p and j < i], what=name(key))
            check_output_file(path, request.overwrite, create_parent=out is not None, what=name(key))
    return tuple(paths)
