"""A standard Triton model repository for the real tritonserver (NGC containers, JetPack's Triton):
REPO/<name>/config.pbtxt and REPO/<name>/1/model.plan (TensorRT) or model.onnx (ONNX Runtime).

This serves the raw network (FP32 NCHW in [0, 1], H and W multiples of 8); padding, tiling and
image formats are the client's, or `ifan serve`'s. The text written parses with Triton's
model_config.proto (a test checks it with tritonclient's copy)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from ifan_trt.contract import INPUT, OUTPUT
from ifan_trt.errors import IfanError
from ifan_trt.files import atomic_path, write_bytes

_ONNX_TYPES = {1: "TYPE_FP32", 10: "TYPE_FP16", 11: "TYPE_FP64"}  # onnx.TensorProto elem types


@dataclass(frozen=True)
class Tensor:
    name: str
    data_type: str
    dims: tuple[int, ...]  # without the batch dimension when the model batches; -1 = dynamic


@dataclass(frozen=True)
class RepoModel:
    platform: str  # "tensorrt_plan" or "onnxruntime_onnx"
    file_name: str  # model.plan or model.onnx
    inputs: tuple[Tensor, ...]
    outputs: tuple[Tensor, ...]
    max_batch: int  # 0: the model has a fixed batch dimension, Triton does not batch
    plugin_library: Path | None = None


def _onnx_dim(d) -> int:
    return d.dim_value if d.HasField("dim_value") else -1


def onnx_model(path: Path, max_batch: int) -> RepoModel:
    """The standard-op ONNX export as an onnxruntime_onnx model; the plugin form is refused."""
    from ifan_trt.contract import PLUGIN_OP
    from ifan_trt.export import graph as graphs

    model = graphs.load_model(path, external_data=False)
    if graphs.plugin_nodes(model):
        raise IfanError(f"{path}: holds the {PLUGIN_OP} plugin node, which Triton's ONNX Runtime backend cannot run; "
                        "export the standard-op form: ifan export --iac onnx -o MODEL.onnx (or build an engine)")
    initializers = {i.name for i in model.graph.initializer}

    def tensors(values):
        out = []
        for v in values:
            if v.name in initializers:
                continue
            t = v.type.tensor_type
            if t.elem_type not in _ONNX_TYPES:
                raise IfanError(f"{path}: tensor {v.name!r} has ONNX element type {t.elem_type}; "
                                "Triton configs are written for FP32, FP16 and FP64 tensors")
            out.append(Tensor(v.name, _ONNX_TYPES[t.elem_type], tuple(_onnx_dim(d) for d in t.shape.dim)))
        return out

    inputs, outputs = tensors(model.graph.input), tensors(model.graph.output)
    batched = all(t.dims and t.dims[0] == -1 for t in inputs + outputs)
    if batched:
        inputs = [Tensor(t.name, t.data_type, t.dims[1:]) for t in inputs]
        outputs = [Tensor(t.name, t.data_type, t.dims[1:]) for t in outputs]
    return RepoModel("onnxruntime_onnx", "model.onnx", tuple(inputs), tuple(outputs), max_batch if batched else 0)


def _profile_dims(profiles: list[dict], name: str) -> tuple[int, tuple[int, ...]]:
    """(largest batch, C/H/W with -1 where the profiles differ) of one engine input."""
    shapes = [p[name] for p in profiles if name in p]
    if not shapes:
        raise IfanError(f"the engine's sidecar has no profile for input {name!r}; rebuild it with `ifan build`")
    dims = []
    for axis in (1, 2, 3):
        values = {s[k][axis] for s in shapes for k in ("min", "max")}
        dims.append(values.pop() if len(values) == 1 else -1)
    return max(s["max"][0] for s in shapes), tuple(dims)


def engine_model(path: Path, max_batch: int | None) -> RepoModel:
    """A TensorRT plan with its sidecar as a tensorrt_plan model (FP32 NCHW I/O in every precision)."""
    from ..model_files.sidecar import read_sidecar

    sidecar = read_sidecar(path)
    names = sidecar.get("inputs") or [INPUT]
    profiles = sidecar.get("profiles") or []
    batches_dims = [_profile_dims(profiles, n) for n in names]
    engine_batch = min(b for b, _ in batches_dims)
    if max_batch is not None and max_batch > engine_batch:
        raise IfanError(f"--max-batch {max_batch}: the engine's profiles take batches up to {engine_batch}; "
                        f"pass --max-batch {engine_batch} or rebuild with larger --shapes")
    inputs = tuple(Tensor(n, "TYPE_FP32", d) for n, (_, d) in zip(names, batches_dims))
    output = Tensor(OUTPUT, "TYPE_FP32", (3,) + batches_dims[0][1][1:])
    library = (sidecar.get("plugin_library") or {}).get("path")
    return RepoModel("tensorrt_plan", "model.plan", inputs, (output,),
                     max_batch or min(8, engine_batch), Path(library) if library else None)


def _tensor_text(kind: str, tensors: tuple[Tensor, ...]) -> list[str]:
    lines = [f"{kind} ["]
    for i, t in enumerate(tensors):
        sep = "," if i < len(tensors) - 1 else ""
        lines.append(f'  {{ name: "{t.name}" data_type: {t.data_type} dims: [ {", ".join(map(str, t.dims))} ] }}{sep}')
    return lines + ["]"]


def config_text(name: str, model: RepoModel, instances: int, kind: str, queue_delay_us: int) -> str:
    """config.pbtxt in Triton's protobuf text format."""
    lines = [f'name: "{name}"', f'platform: "{model.platform}"', f"max_batch_size: {model.max_batch}"]
    lines += _tensor_text("input", model.inputs) + _tensor_text("output", model.outputs)
    if model.max_batch > 0:
        lines.append(f"dynamic_batching {{ max_queue_delay_microseconds: {queue_delay_us} }}")
    lines.append(f"instance_group [ {{ count: {instances} kind: {kind} }} ]")
    return "\n".join(lines) + "\n"


def write_repository(model_path: Path, repo: Path, name: str = "ifan", max_batch: int | None = None,
                     instances: int = 1, kind: str | None = None, queue_delay_us: int = 2000) -> RepoModel:
    """Write REPO/<name>/{config.pbtxt, 1/model.*} (and REPO/plugins/ for a plugin engine)."""
    if instances < 1 or (max_batch is not None and max_batch < 1):
        raise IfanError("--instances and --max-batch must be >= 1")
    if not model_path.is_file():
        raise IfanError(f"{model_path}: no such file")
    if model_path.suffix.lower() == ".onnx":
        model = onnx_model(model_path, max_batch or 8)
        kind = kind or "KIND_GPU"
    else:
        model = engine_model(model_path, max_batch)
        if kind == "KIND_CPU":
            raise IfanError("a TensorRT engine runs on the GPU: --kind cpu applies to ONNX models")
        kind = "KIND_GPU"
    folder = repo / name
    if folder.exists():
        raise IfanError(f"{folder}: exists; choose another -o or --name (a model repository is never overwritten)")
    (folder / "1").mkdir(parents=True)
    with atomic_path(folder / "1" / model.file_name) as tmp:
        shutil.copyfile(model_path, tmp)
    if model.plugin_library is not None and model.plugin_library.is_file():
        (repo / "plugins").mkdir(exist_ok=True)
        with atomic_path(repo / "plugins" / model.plugin_library.name, overwrite=True) as tmp:
            shutil.copyfile(model.plugin_library, tmp)
    write_bytes(folder / "config.pbtxt", config_text(name, model, instances, kind, queue_delay_us).encode(), overwrite=True)
    return model
