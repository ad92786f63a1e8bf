"""The Python API: one model object whose methods are the jobs the `ifan` commands run.

    import ifan_trt
    m = ifan_trt.Model("default")              # or "IFAN.pth", "x.onnx", "x.engine"
    onnx = ifan_trt.Model("IFAN.pth").export("ifan.onnx")
    fp16 = onnx.precision("fp16")              # measured on the bundled samples
    int8 = onnx.precision("int8", calib_images="photos/")
    engine = fp16.build("ifan.fp16.engine", shapes="min=1x3x256x256,opt=1x3x720x1280,max=1x3x1080x1920")
    sharp = m(image)                           # (H,W[,3|4]) uint8/uint16/float32, same shape back
    m.deblur("photos/", "sharp/")              # files, folders, videos: a DeblurResult
    print(engine.profile().table())            # per-stage latency; m.evaluate("DPDD/"), m.serve()

Each method calls the function its command calls (ifan_trt.jobs.*) and returns a Model of the file
it made; errors are IfanError with messages that name the parameters; nothing is printed (the
`ifan` logger carries what the commands print)."""

from __future__ import annotations

import os
from pathlib import Path

from ifan_trt.errors import IfanError
from ifan_trt.models import ModelRef


class Model:
    """A checkpoint, an ONNX graph or a TensorRT engine (kind from the suffix; `default` is the
    bundled model's ONNX export). `path` is the file, `kind` what it is."""

    def __init__(self, model: str | os.PathLike = "default"):
        ref = ModelRef.parse(model, parameter="model")
        self.path, self.kind, self.default = ref.path, ref.kind, ref.default
        self._deblurrer = None

    def __repr__(self) -> str:
        return f"Model({str(self.path)!r}, kind={self.kind!r})"

    def _need(self, method: str, *kinds: str) -> None:
        if self.kind not in kinds:
            raise IfanError(f"Model.{method}: needs a {' or '.join(kinds)} model, not the {self.kind} {self.path}")

    def export(self, output: str | os.PathLike, iac: str = "plugin", shape: tuple[int, int] | None = None,
               batch: int | None = None, opset: int | None = None, iac_split: bool = False, prune: bool = True,
               overwrite: bool = False, io: str = "float", channel_order: str = "bgr", in_bit: int | None = None,
               iac_mode: str | None = None) -> "Model":
        """The checkpoint as ONNX (iac: "plugin" for TensorRT or "onnx" for standard ops; shape:
        a static (H, W); batch: a static batch; io: "uint8" for frames in and out with the
        conversions inside the graph, in channel_order); `ifan export`'s job."""
        from .export import ExportRequest, export

        self._need("export", "checkpoint")
        result = export(ExportRequest(self.path, output, iac, shape, batch, opset, iac_split, prune,
                                      in_bit=in_bit, iac_mode=iac_mode, overwrite=overwrite, io=io,
                                      channel_order=channel_order))
        return Model(result.path)

    def precision(self, name: str, calib_images: str | os.PathLike | None = None,
                  output: str | os.PathLike | None = None, **options) -> "Model":
        """The graph of one precision (fp16, int8, int8-fp16 or int8-cpu) made from this FP32 export
        or checkpoint; output defaults to MODEL.NAME.onnx beside it. options: the fields of
        ifan_trt.jobs.precision.PrecisionRequest (calib_count, calib_size, keep_fp32, ...)."""
        from .precision import PrecisionRequest, make_precision

        self._need("precision", "onnx", "checkpoint")
        model = "default" if self.default else self.path
        return Model(make_precision(PrecisionRequest(model, name, output, calib_images, **options)).path)

    def check(self, against: str | os.PathLike | None = None, **options):
        """This ONNX graph against its reference: a checkpoint (or None: the bundled one when the
        graph came from it), compared with PyTorch; an FP32 ONNX graph (or "default"), scored on
        images. options: the fields of ifan_trt.jobs.check.CheckRequest (size, images, limit,
        min_psnr, batch, tolerance). Returns the CheckResult (passed, report, lines(), to_dict())."""
        from .check import CheckRequest, check

        self._need("check", "onnx")
        model = "default" if self.default else self.path
        return check(CheckRequest(model, against, progress=False, **options))

    def build(self, output: str | os.PathLike | None = None, shapes: str | list[str] | None = None,
              precision: str | None = None, **options) -> "Model":
        """A TensorRT engine of this ONNX graph (output default MODEL.engine beside it; shapes: one
        `min=BxCxHxW,opt=...,max=...` profile or a list; precision: None builds the graph's own).
        options: the fields of ifan_trt.jobs.engine.BuildRequest (calib_images, workspace, ...)."""
        from .engine import BuildRequest, build_engine

        self._need("build", "onnx")
        shapes = (shapes,) if isinstance(shapes, str) else tuple(shapes) if shapes else None
        output = output or Path(self.path).with_suffix(".engine")
        return Model(build_engine(BuildRequest(self.path, output, precision, shapes, **options)).engine)

    def inspect(self) -> dict:
        """What the file is: variant, N, IAC mode and form, precision, shapes, hashes (`ifan inspect`)."""
        from ifan_trt.runtime.model_files.model_facts import inspect_model

        return inspect_model(str(self.path))

    def _run_model(self, **options):
        from .requests import RunModel

        return RunModel(**({} if self.default else {self.kind: self.path}), **options)

    def deblur(self, inputs, output: str | os.PathLike | None = None, **options):
        """Deblur files (`ifan deblur`): inputs, a path or a list of image files, folders, globs and
        videos; output: a file for one input, else a folder. options: the fields of
        ifan_trt.jobs.deblur.DeblurRequest (tile, max_pixels, batch, overwrite, recursive, compare,
        server, ...) and of RunModel (backend, device, threads, ...). A DeblurResult: an input that
        fails among several is skipped and listed in .failed (.status 1)."""
        from dataclasses import fields

        from .deblur import DeblurRequest, deblur
        from .requests import RunModel

        inputs = (inputs,) if isinstance(inputs, (str, os.PathLike)) else tuple(inputs)
        run = {k: options.pop(k) for k in list(options) if k in {f.name for f in fields(RunModel)}}
        # through a server, the server's model runs (run options are refused there, by the job)
        model = RunModel(**run) if options.get("server") else self._run_model(**run)
        return deblur(DeblurRequest(inputs, output, model, **options))

    def profile(self, shape: str | tuple[int, int, int, int] = (1, 3, 720, 1280), warmup: int = 3,
                iterations: int | None = None, **options):
        """Per-stage latency of the pipeline on synthetic frames of shape BxCxHxW (`ifan profile`).
        options: the fields of ifan_trt.jobs.profile.ProfileRequest (duration, shapes, device, json,
        ...). A ProfileReport: .results (one per shape), .table()."""
        from ifan_trt.runtime.measure.profiler import parse_shape

        from .profile import ProfileRequest, profile

        shapes = options.pop("shapes", None) or ((parse_shape(shape) if isinstance(shape, str) else tuple(shape)),)
        model = {self.kind: ("default" if self.default else self.path,)}
        return profile(ProfileRequest(**model, shapes=tuple(shapes), warmup=warmup, iterations=iterations, **options))

    def evaluate(self, data: str | os.PathLike, **options):
        """PSNR, SSIM and MAE on a test set with ground truth (`ifan eval`). options: the fields of
        ifan_trt.jobs.evaluate.EvaluateRequest (csv, table, save_dir, limit, tile, ...) and of
        RunModel (backend, device, threads). An Evaluation: .summary, .table."""
        from dataclasses import fields

        from .evaluate import EvaluateRequest, evaluate
        from .requests import RunModel

        run = {f.name for f in fields(RunModel)}
        model = self._run_model(**{k: options.pop(k) for k in list(options) if k in run})
        return evaluate(EvaluateRequest(data, model, **options))

    def serve(self, **options) -> None:
        """Serve this model on Triton Inference Server (`ifan serve`; needs PyTriton) until SIGINT or
        SIGTERM. options: the fields of ifan_trt.jobs.serve.ServeRequest (host, http_port, instances,
        max_batch, ...) and on_ready(Serving), called once the server answers."""
        from .serve import ServeRequest, serve

        on_ready = options.pop("on_ready", None)
        serve(ServeRequest(self._run_model(), **options), on_ready=on_ready)

    def benchmark(self, data: str | os.PathLike, out_dir: str | os.PathLike, **settings):
        """Every precision of this model in one table (`ifan benchmark`); data: a test set with
        ground truth; settings: the fields of ifan_trt.jobs.benchmark.BenchmarkRequest. The Bench."""
        from .benchmark import BenchmarkRequest, benchmark

        self._need("benchmark", "onnx", "checkpoint")
        model = {} if self.default else {self.kind: self.path}
        return benchmark(BenchmarkRequest(data, out_dir, **model, **settings))

    def __call__(self, image, bgr: bool = False):
        """The deblurred image: same shape, dtype and channel order (RGB; bgr=True for OpenCV frames)."""
        if self._deblurrer is None:
            from ifan_trt.runtime.images.deblurrer import Deblurrer

            self._deblurrer = Deblurrer("default" if self.default else self.path)
        return self._deblurrer(image, bgr=bgr)

    def close(self) -> None:
        if self._deblurrer is not None:
            self._deblurrer.close()
            self._deblurrer = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
