"""Export an IFAN model to ONNX: dynamic shapes, the IAC as a plugin node or standard ops,
kernel2 rows pruned in official mode, ``ifan.*`` metadata.

Exporter: torch.onnx.export(dynamo=True) (torch.export-based) with the IAC as the custom op
``ifan::iac`` translated to the IFAN_IAC plugin node (``iac_op.iac_plugin``); the standard-op form
is that graph with the node replaced by export/twin.py, the one emitter of the IAC as standard ops
(the calibration twin and the CPU rewrites use it too). H and W are declared multiples of 8 (the
network's contract), so every shape in the graph is exact, not a rounded expression.
"""

from __future__ import annotations

import logging
import os
import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import onnx_ir as ir
import torch

from ifan_trt import __version__
from ifan_trt.checkpoint import LoadedModel, load_checkpoint
from ifan_trt.errors import IfanError
from ifan_trt.files import atomic_path, write_bytes
from ifan_trt.sizes import check_size
from ifan_trt.contract import META, compact_rows, filter_channels
from ifan_trt.model import IFAN, IFANConfig

from ifan_trt.contract import (CHANNEL_ORDERS, DEFAULT_OPSET, IAC_FEATURES, IAC_FILTERS, IAC_FORMS, IAC_NODE_PREFIX, IO_KINDS,
                       IAC_OUTPUT, INPUT, LEFT, OUTPUT, RIGHT, SIZE_MULTIPLE, normalization)
from .iac_op import IACOp, SplitIACOp, iac_op, iac_plugin
from .iac_split import split_filters_name, split_state_name

# torch.onnx's dynamo exporter emits opset 18 or newer: below that it runs ONNX's version
# converter, which has no Pad adapter (the standard-op IAC's edge padding) and gives up.
MIN_OPSET = 18


@dataclass
class ExportResult:
    """What export_onnx wrote. filter_bytes_*: F's size at 1280x720 in FP32, batch 1."""

    path: Path
    config: IFANConfig
    iac_form: str
    filter_layout: str
    opset: int
    seconds: float
    filter_bytes_full: int
    filter_bytes_exported: int
    metadata: dict = field(default_factory=dict)
    iac_split: bool = False


def filter_bytes(config: IFANConfig, layout: str, height: int = 720, width: int = 1280,
                 bytes_per_value: int = 4) -> int:
    """Size of the filter tensor F for one image (F is at 1/8 resolution)."""
    channels = filter_channels(config.n_iters, config.feat_channels, config.filter_size, layout)
    return channels * (height // 8) * (width // 8) * bytes_per_value


def build_export_model(model: IFAN, prune: bool = True, split: bool = False) -> IFAN:
    """A copy of model whose IAC is the custom op; with prune (official mode only) the filter
    predictor's last 1x1 conv keeps just the rows the IAC reads (compact layout). Lossless:
    the kept rows are copied unchanged, the dropped ones (kernel2) are never read. With split,
    that conv moves into the IAC, one row slice per iteration (SplitIACOp): F is never made."""
    config = model.config
    source_layout = model.iac.layout
    layout = "compact" if (prune and config.iac_mode == "official") or source_layout == "compact" else "full"
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if layout == "compact" and source_layout == "full":
        rows = torch.tensor(compact_rows(config.n_iters, config.feat_channels, config.filter_size))
        state["F.3.weight"] = state["F.3.weight"][rows].contiguous()
        state["F.3.bias"] = state["F.3.bias"][rows].contiguous()
    out = IFAN(config, filter_layout=layout)
    out.load_state_dict(state, strict=True)
    iac_args = (config.n_iters, config.filter_size, config.iac_mode, layout, model.iac.slope)
    if split:
        conv = out.F[3]
        out.F = out.F[:3]  # filters() now returns the conv's input
        out.iac = SplitIACOp(conv, *iac_args)
    else:
        out.iac = IACOp(*iac_args)
    return out.eval()


def _resolve(model) -> tuple[IFAN, str]:
    """(network, checkpoint sha256) from a LoadedModel, a checkpoint path or a bare IFAN."""
    if isinstance(model, (str, os.PathLike)):
        model = load_checkpoint(model)
    if isinstance(model, LoadedModel):
        return model.model, model.sha256
    if isinstance(model, IFAN):
        return model, "unknown"
    raise TypeError(f"export_onnx needs a LoadedModel, a checkpoint path or an IFAN, not {type(model).__name__}")


def _dynamic_shapes(names, shape, batch):
    """Batch, height and width dynamic unless fixed; H and W as 8 * Dim so shapes stay exact."""
    dims = {0: torch.export.Dim("batch", min=1)} if batch is None else {}
    if shape is None:
        dims[2] = SIZE_MULTIPLE * torch.export.Dim("height_8", min=1)
        dims[3] = SIZE_MULTIPLE * torch.export.Dim("width_8", min=1)
    return {name: dict(dims) for name in names}


def _metadata(config: IFANConfig, iac_form: str, layout: str, sha256: str,
              split: bool = False) -> dict[str, str]:
    return {
        META.variant: config.variant,
        META.n_iters: str(config.n_iters),
        META.dual: "true" if config.dual else "false",
        META.in_bit: str(config.in_bit),
        META.iac_mode: config.iac_mode,
        META.iac_form: iac_form,
        META.iac_split: "true" if split else "false",
        META.filter_layout: layout,
        META.normalization: normalization(config.in_bit),
        META.size_multiple: str(SIZE_MULTIPLE),
        META.tool_version: __version__,
        META.checkpoint_sha256: sha256,
        META.precision: "fp32",
    }


def _finish_graph(ir_model, boundary, names, shape, batch, metadata, variant) -> None:
    """Stable names at the IAC boundary, readable I/O dims, metadata; drop exporter noise.
    boundary: (features, filters, output) of each IAC call, one per iteration in the split form."""
    fx_nodes = {f"node_{out.name}" for _, _, out in boundary}  # IAC outputs: named after the FX node
    split = len(boundary) > 1
    boundary[0][0].name = IAC_FEATURES
    boundary[-1][2].name = IAC_OUTPUT
    for i, (_, filters, out) in enumerate(boundary):
        filters.name = split_filters_name(i) if split else IAC_FILTERS
        if i < len(boundary) - 1:
            out.name = split_state_name(i + 1)
    graph = ir_model.graph
    count = 0
    for node in graph:
        node.metadata_props.pop("pkg.torch.onnx.stack_trace", None)  # paths of the exporting machine
        if "ifan.iac" in node.metadata_props.get("pkg.torch.onnx.fx_node", "") or node.name in fx_nodes:
            node.name = f"{IAC_NODE_PREFIX}{node.op_type}_{count}"
            count += 1
    _rename_anonymous(graph)
    h, w = shape if shape is not None else ("height", "width")
    for value in [*graph.inputs, *graph.outputs]:
        value.shape = ir.Shape([batch or "batch", 3, h, w])
    graph.name = variant
    ir_model.producer_name, ir_model.producer_version = "ifan-trt", __version__
    ir_model.metadata_props.update(metadata)


def _optimize(ir_model) -> None:
    """torch.onnx's optimizer minus its pattern rewriter: constant folding and clean-up only.

    The rewriter's rules (made for transformer graphs) never fire on IFAN, but matching them
    against the ~500 nodes of the standard-op IAC took longer than the rest of the export.
    """
    import onnx_ir.passes.common as common
    import onnxscript.optimizer

    common.InlinePass()(ir_model)
    for _ in range(2):
        onnxscript.optimizer.fold_constants(ir_model)
        common.RemoveUnusedNodesPass()(ir_model)
    for step in (common.RemoveUnusedFunctionsPass(), common.RemoveUnusedOpsetsPass(),
                 common.LiftConstantsToInitializersPass(lift_all_constants=True, size_limit=0),
                 common.DeduplicateInitializersPass(), common.CommonSubexpressionEliminationPass(),
                 common.OutputFixPass(), common.NameFixPass()):
        step(ir_model)


def _rename_anonymous(graph) -> None:
    """Give the exporter's counter-named values ("val_123") names that do not depend on the IAC
    form: the standard-op IAC creates values too, which shifts the counter for everything after
    it. Values are numbered in node order, separately inside ("iac/v<n>") and outside ("v<n>")."""
    anonymous = re.compile(r"val_\d+$")
    renamed, counts = set(), {"": 0, IAC_NODE_PREFIX: 0}
    for node in graph:
        prefix = IAC_NODE_PREFIX if node.name.startswith(IAC_NODE_PREFIX) else ""
        for value in [*node.inputs, *node.outputs]:
            if value is None or id(value) in renamed or not anonymous.match(value.name or ""):
                continue
            value.name = f"{prefix}v{counts[prefix]}"
            counts[prefix] += 1
            renamed.add(id(value))


def export_onnx(model, path, iac_form: str = "plugin", shape: tuple[int, int] | None = None,
                prune: bool = True, opset: int = DEFAULT_OPSET, batch: int | None = None,
                iac_split: bool | str = False, overwrite: bool = True, io: str = "float",
                channel_order: str = "rgb") -> ExportResult:
    """Export IFAN to an ONNX file; returns an ExportResult.

    model: an ifan_trt.checkpoint.LoadedModel, a checkpoint path, or an IFAN module.
    iac_form: "plugin" (one IFAN_IAC node for the TensorRT plugin) or "onnx" (standard ops).
    shape: (H, W) to fix height and width (multiples of 8); None keeps them dynamic.
    prune: in official mode, drop the never-read kernel2 rows (compact filter layout).
    opset: ONNX opset (>= 18). batch: fix the batch size; None keeps it dynamic.
    iac_split: True for the split form (one IAC node per iteration, each fed by its own slice of
    the filter conv: F is never written); "auto": the split form when it lowers the peak of live
    activations (export/liveness.py) at shape, or 720x1280 when the shape is dynamic.
    io: "float" (the network's own I/O: B x 3 x H x W float in [0, 1], H and W multiples of 8) or
    "uint8" (frames in and out: B x H x W x 3 uint8, any H and W, in channel_order "rgb" or "bgr";
    the conversions and the padding inside the graph, export/uint8_io.py).
    The file is written atomically (an existing file is replaced only with overwrite); tensor
    names and metadata follow ifan_trt.contract.
    """
    if io not in IO_KINDS:
        raise IfanError(f"io {io!r}: expected one of {', '.join(IO_KINDS)}")
    if channel_order not in CHANNEL_ORDERS:
        raise IfanError(f"channel order {channel_order!r}: expected one of {', '.join(CHANNEL_ORDERS)}")
    if iac_form not in IAC_FORMS:
        raise IfanError(f"iac form {iac_form!r}: expected one of {', '.join(IAC_FORMS)}")
    if opset < MIN_OPSET:
        raise IfanError(f"opset {opset}: the export needs opset {MIN_OPSET} or newer")
    if shape is not None:
        shape = (int(shape[0]), int(shape[1]))
        check_size(shape, "shape", multiple=SIZE_MULTIPLE, minimum=SIZE_MULTIPLE)
    if batch is not None and batch < 1:
        raise IfanError(f"batch {batch}: must be >= 1")
    if iac_split == "auto":
        return _export_lower_peak(model, path, iac_form, shape, prune, opset, batch, overwrite, io, channel_order)
    path = Path(path)
    start = time.perf_counter()
    network, sha256 = _resolve(model)
    config = network.config
    if io == "uint8" and (config.dual or config.in_bit != 8):
        raise IfanError(f"io uint8: {config.variant} takes "
                        + ("the dual-pixel views too" if config.dual else f"{config.in_bit}-bit input")
                        + "; uint8 I/O is for 8-bit single-frame models")
    export_model = build_export_model(network, prune, split=bool(iac_split))
    layout = export_model.iac.layout

    names = [INPUT, LEFT, RIGHT] if config.dual else [INPUT]
    example_hw = shape or (64, 96)
    example = tuple(torch.rand(batch or 2, 3, *example_hw) for _ in names)
    boundary = []

    def translate(x, filters, n_iters: int, k: int, mode: int, layout: int, slope: float):
        result = iac_plugin(x, filters, n_iters, k, mode, layout, slope)  # standard ops: below
        boundary.append((x, filters, result))
        return result

    program = _trace(export_model, example, names, shape, batch, opset, translate, config.variant)
    written = dict(program.model.opset_imports).get("", opset)
    if written != opset:  # the exporter may settle on another version: say so rather than claim it
        raise IfanError(f"opset {opset}: the exporter of torch {torch.__version__} wrote opset {written}; "
                        f"pass --opset {written}")
    expected = config.n_iters if iac_split else 1
    if len(boundary) != expected:
        raise RuntimeError(f"expected {expected} IAC call(s) in the exported graph, found {len(boundary)}")
    metadata = _metadata(config, iac_form, layout, sha256, bool(iac_split))
    _finish_graph(program.model, boundary, names, shape, batch, metadata, config.variant)

    wrap = None
    if io == "uint8":
        from . import uint8_io

        wrap = lambda model: uint8_io.wrap(model, channel_order)
        metadata = {**metadata, META.io: "uint8", META.channel_order: channel_order}
    _save(program, path, iac_form, overwrite, wrap)
    return ExportResult(path, config, iac_form, layout, opset, time.perf_counter() - start,
                        filter_bytes(config, "full"), filter_bytes(config, layout), metadata, bool(iac_split))


def _trace(export_model, example, names, shape, batch, opset, translate, variant: str):
    """torch.onnx.export (dynamo) of the model with the IAC translated by translate, optimised."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # exporter deprecation chatter, not ours to fix
        logger.setLevel(logging.ERROR)  # e.g. "torchvision is not installed" on every export
        try:
            program = torch.onnx.export(
                export_model, example, dynamo=True, opset_version=opset, verbose=False,
                input_names=names, output_names=[OUTPUT],
                dynamic_shapes=_dynamic_shapes(names, shape, batch),
                custom_translation_table={torch.ops.ifan.iac.default: translate},
                optimize=False,  # _optimize below: the same passes without the slow rewriter
            )
            _optimize(program.model)
        except Exception as exc:  # the exporter's errors are long reports: keep the first line
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise RuntimeError(f"ONNX export of {variant} failed: {first}") from exc
        finally:
            logger.setLevel(level)
    return program


def _save(program, path: Path, iac_form: str, overwrite: bool, wrap=None) -> None:
    """Write the graph atomically; the standard-op form replaces the IAC node first, wrap (the
    uint8 I/O) goes around the result."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if iac_form == "onnx" or wrap is not None:
        from . import graph, twin

        model = ir.serde.serialize_model(program.model)
        if iac_form == "onnx":  # the one standard-op emitter, the same the calibration twin uses
            model = twin.standard_twin(model)
        graph.save_model(wrap(model) if wrap else model, path, overwrite)
    else:
        with atomic_path(path, overwrite) as tmp:
            program.save(tmp, external_data=False)


def _export_lower_peak(model, path, iac_form, shape, prune, opset, batch, overwrite, io="float",
                       channel_order="rgb") -> ExportResult:
    """iac_split="auto": the split export when it lowers the peak of live activations, judged on
    the split rewrite of the one-node plugin graph (exported beside path first), else one node."""
    from .graph import load_model
    from .liveness import split_gain

    if isinstance(model, (str, os.PathLike)):
        model = load_checkpoint(model)  # once, keeping its sha256 for both exports
    path = Path(path)
    probe = path.with_name(f".{path.stem}.probe{os.getpid()}.onnx")
    try:
        result = export_onnx(model, probe, "plugin", shape, prune, opset, batch)
        lowers = split_gain(load_model(probe), shape or (720, 1280), batch or 1)["lowers"]
        if lowers or iac_form != "plugin" or io != "float":
            return export_onnx(model, path, iac_form, shape, prune, opset, batch, iac_split=lowers,
                               overwrite=overwrite, io=io, channel_order=channel_order)
        write_bytes(path, probe.read_bytes(), overwrite)
        result.path = path
        return result
    finally:
        probe.unlink(missing_ok=True)


__all__ = ["ExportResult", "build_export_model", "export_onnx", "filter_bytes", "iac_op"]
