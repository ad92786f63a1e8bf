"""What a model file is, for `ifan inspect`: a checkpoint, an ONNX export or an engine with its
sidecar. Variant, N, IAC mode and form, precision, input depth, shapes (static or dynamic) or
engine profiles, opset, plugin, file hashes; TensorRT version and GPU for engines.
Nothing is run; ONNX weights and engines are not deserialised."""

from __future__ import annotations

from pathlib import Path

from ifan_trt.contract import INPUT, META
from ifan_trt.errors import IfanError
from ifan_trt.files import sha256_file
from ifan_trt.models import kind_of



def _dims(value_info) -> list:
    dims = value_info.type.tensor_type.shape.dim
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in dims]


def _precision(model, meta: dict) -> str:
    """The graph's precision (export.graph owns the rule); CPU INT8 graphs are told apart."""
    from ifan_trt.export import graph as graphs

    precision = graphs.graph_precision(model)
    return "int8-cpu" if precision.startswith("int8") and meta.get(META.int8_target) == "cpu" else precision


def onnx_facts(path: Path) -> dict:
    from ifan_trt.contract import PLUGIN_OP
    from ifan_trt.export import graph as graphs

    model = graphs.load_model(path)
    meta = graphs.metadata(model)
    inputs = dict(graphs.input_dims(model, unknown="?"))
    shape = inputs.get(INPUT, [])
    if meta.get(META.io) == "uint8" and len(shape) == 4:  # frames, B x H x W x 3: sizes as for any model
        shape = [shape[0], 3, shape[1], shape[2]]
    static_hw = len(shape) == 4 and all(isinstance(d, int) and d > 0 for d in shape[2:])
    plugin = graphs.plugin_nodes(model)
    facts = _model_meta(meta)
    facts.update({
        "precision": _precision(model, meta), "opset": graphs.opset(model),
        "inputs": inputs, "outputs": {o.name: _dims(o) for o in model.graph.output},
        "shapes": ("static " if static_hw else "dynamic ") + "x".join(map(str, shape)),
        "static_hw": list(shape[2:]) if static_hw else None,
        "fixed_batch": shape[0] if shape and isinstance(shape[0], int) and shape[0] > 0 else None,
        "plugin": {"op": PLUGIN_OP, "nodes": len(plugin)} if plugin else None,
        "checkpoint_sha256": meta.get(META.checkpoint_sha256),
    })
    facts["peak_memory"] = _liveness(model, shape)
    return facts


def _liveness(model, shape) -> dict | None:
    """Peak live activation memory (export/liveness.py) at the graph's own size, or 720x1280 and
    batch 1 where the graph is dynamic; None when this install has no liveness analysis."""
    try:
        from ifan_trt.export.liveness import peak_report
    except ImportError:
        return None
    fixed = lambda d, default: d if isinstance(d, int) and d > 0 else default
    hw = (fixed(shape[2], 720), fixed(shape[3], 1280)) if len(shape) == 4 else (720, 1280)
    batch = fixed(shape[0], 1) if shape else 1
    return {"at": f"{batch}x3x{hw[0]}x{hw[1]}", **peak_report(model, hw, batch=batch)}


def _model_meta(meta: dict) -> dict:
    get = lambda key: meta.get(getattr(META, key))
    return {"variant": get("variant"), "n_iters": int(get("n_iters")) if get("n_iters") else None,
            "iac_mode": get("iac_mode"), "iac_form": get("iac_form"), "filter_layout": get("filter_layout"),
            "in_bit": int(get("in_bit")) if get("in_bit") else None, "normalization": get("normalization"),
            "dual": get("dual") == "true" if get("dual") else None, "tool_version": get("tool_version"),
            "io": (f"uint8 frames (BxHxWx3, {get('channel_order') or 'rgb'})" if get("io") == "uint8" else None)}


def engine_facts(path: Path) -> dict:
    from .sidecar import read_sidecar, sidecar_metadata

    sidecar = read_sidecar(path)
    facts = _model_meta(sidecar_metadata(sidecar))
    recorded = sidecar.get("engine_sha256")
    facts.update({
        "precision": sidecar.get("precision"), "tensorrt_version": sidecar.get("tensorrt_version"),
        "gpu": sidecar.get("gpu"), "profiles": sidecar.get("profiles"),
        "shapes": _profiles_text(sidecar.get("profiles")),
        "onnx": sidecar.get("onnx"), "plugin": sidecar.get("plugin_library"),
        "engine_sha256_recorded": recorded,
        "engine_matches_sidecar": None if not recorded else recorded == sha256_file(path),
        "builder": sidecar.get("builder"), "built_at": sidecar.get("built_at"),
        "iac_split": sidecar.get("iac_split"), "peak_live_bytes": sidecar.get("peak_live_bytes"),
        "io": facts.get("io"), "dla": _dla_facts(sidecar.get("dla")),
    })
    return facts


def _dla_facts(dla: dict | None) -> dict | None:
    """The DLA core an engine runs on and which of its layers run there (null: GPU only)."""
    if not dla:
        return None
    layers = dla.get("layers_on_dla") or []
    return {"core": dla.get("core"), "gpu_fallback": dla.get("gpu_fallback"), "layers_on_dla": len(layers),
            "names": ", ".join(layers) or "none"}


def _profiles_text(profiles) -> str:
    if not profiles:
        return "unknown (no profiles in the sidecar)"
    texts = []
    for profile in profiles if isinstance(profiles, list) else [profiles]:
        spec = profile.get(INPUT, profile) if isinstance(profile, dict) else profile
        if isinstance(spec, dict) and {"min", "opt", "max"} <= set(spec):
            dims = ["x".join(map(str, spec[k])) for k in ("min", "opt", "max")]
            kind = "static" if dims[0] == dims[2] else "dynamic"
            texts.append(f"{kind} min={dims[0]},opt={dims[1]},max={dims[2]}")
        else:
            texts.append(str(spec))
    return "; ".join(texts)


def checkpoint_facts(path: Path) -> dict:
    try:
        from ifan_trt.checkpoint import load_checkpoint
    except ImportError:
        raise IfanError(f"{path}: reading a checkpoint needs torch: pip install 'ifan-trt[torch]'") from None
    loaded = load_checkpoint(path)
    c = loaded.config
    return {"variant": c.variant, "n_iters": c.n_iters, "iac_mode": c.iac_mode, "iac_form": "pytorch",
            "in_bit": c.in_bit, "dual": c.dual, "precision": "fp32", "source": loaded.source,
            "parameters": sum(p.numel() for p in loaded.model.parameters()),
            "shapes": "dynamic (any HxW; padded to a multiple of 8)"}


def inspect_model(path: str) -> dict:
    """Facts of a model file; the kind comes from the extension (.onnx, .engine/.plan, else a checkpoint)."""
    p = Path(path)
    kind = kind_of(p, "checkpoint")
    read = {"onnx": onnx_facts, "engine": engine_facts, "checkpoint": checkpoint_facts}[kind]
    facts = {"file": str(p), "kind": kind, "bytes": p.stat().st_size, "sha256": sha256_file(p)}
    facts.update(read(p))
    return facts


def format_facts(facts: dict) -> str:
    """Key: value lines, nested dicts inline, empty facts left out."""
    lines = []
    for key, value in facts.items():
        if value is None or value == {} or value == []:
            continue
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        lines.append(f"{key + ':':<24}{value}")
    return "\n".join(lines)
