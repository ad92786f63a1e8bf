"""uint8 models: the float network wrapped so that it takes and returns frames as they arrive.

A uint8 model's ``input`` is B x H x W x 3 uint8 (any H and W, channel order RGB or BGR as its
``ifan.channel_order`` says) and its ``output`` the same. Inside the graph, in front of the
unchanged float network (the "core"): Cast to float, NHWC -> NCHW, reorder the channels to RGB,
divide by 255, edge-pad H and W up to the size multiple. Behind it: crop back, the channel order
of the input, clip to [0, 1], x 255, + 0.5, Floor, NCHW -> NHWC, Cast to uint8. The float path
of the pipeline does the same on the host (runtime/images/video.py), so both give the same code values
up to the last bit of float rounding. Round and clip come before the Cast on purpose: TensorRT's
float -> uint8 cast truncates and is undefined outside [0, 256).

The core stays inside, whole: its input and output become the inner tensors ``io/network_input``
and ``io/network_output`` (their types kept as value_info), and every added node is named
``io/...``. ``float_core`` takes the wrapper off again, exactly: the precision steps (FP16, INT8)
work on the core and ``wrap`` the result again, and ONNX Runtime runs 16-bit, grayscale and alpha
images on the core of a uint8 model.
"""

from __future__ import annotations

from ifan_trt.contract import CHANNEL_ORDERS, INPUT, META, OUTPUT, SIZE_MULTIPLE
from ifan_trt.errors import IfanError

IO_PREFIX = "io/"
CORE_INPUT = "io/network_input"
CORE_OUTPUT = "io/network_output"


def io_kind(meta: dict) -> str:
    """"uint8" or "float" from a model's ifan.* metadata (absent: float)."""
    return "uint8" if meta.get(META.io) == "uint8" else "float"


def is_uint8(model) -> bool:
    return io_kind({p.key: p.value for p in model.metadata_props}) == "uint8"


def channel_order(model) -> str:
    return {p.key: p.value for p in model.metadata_props}.get(META.channel_order, "rgb")


def _check_core(model) -> None:
    from .graph import input_names

    meta = {p.key: p.value for p in model.metadata_props}
    inputs = input_names(model)
    if is_uint8(model):
        raise IfanError("the graph already has uint8 I/O")
    if meta.get(META.dual) == "true" or inputs != [INPUT]:
        raise IfanError(f"{meta.get(META.variant, 'this model')} takes the dual-pixel views too "
                        f"(inputs {', '.join(inputs)}): uint8 I/O is for single-frame models")
    if meta.get(META.in_bit, "8") != "8":
        raise IfanError(f"{meta.get(META.variant, 'this model')} takes {meta.get(META.in_bit)}-bit input: "
                        "uint8 I/O is for 8-bit models")
    if [o.name for o in model.graph.output] != [OUTPUT]:
        raise IfanError(f"the graph's outputs are {[o.name for o in model.graph.output]}, expected [{OUTPUT!r}]")


def wrap(model, order: str = "rgb"):
    """The uint8 model of a float single-frame model (onnx.ModelProto; a new one is returned)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    import numpy as np

    if order not in CHANNEL_ORDERS:
        raise IfanError(f"channel order {order!r}: expected one of {', '.join(CHANNEL_ORDERS)}")
    _check_core(model)
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    core_in, core_out = graph.input[0], graph.output[0]
    in_type, out_type = core_in.type.tensor_type.elem_type, core_out.type.tensor_type.elem_type
    in_dims = _dims(core_in)
    for node in graph.node:  # the core now reads and writes the inner tensors
        node.input[:] = [CORE_INPUT if n == INPUT else n for n in node.input]
        node.output[:] = [CORE_OUTPUT if n == OUTPUT else n for n in node.output]
    batch = in_dims[0] if in_dims[0] is not None else "batch"
    static_hw = all(isinstance(d, int) for d in in_dims[2:])
    frame_hw = in_dims[2:] if static_hw else ["frame_height", "frame_width"]

    consts = {
        "io/scale": np.array(255.0, np.float32), "io/half": np.array(0.5, np.float32),
        "io/zero": np.array(0.0, np.float32), "io/one": np.array(1.0, np.float32),
        "io/multiple": np.array([SIZE_MULTIPLE], np.int64), "io/hw_start": np.array([1], np.int64),
        "io/hw_end": np.array([3], np.int64), "io/zeros6": np.zeros(6, np.int64),
        "io/starts": np.zeros(2, np.int64), "io/axes_hw": np.array([2, 3], np.int64),
        "io/bgr": np.array([2, 1, 0], np.int64),
    }
    # a clean set of initializers (a constant per fact, uniquely named io/...)
    graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in consts.items())
    n = lambda op, ins, outs, **attrs: helper.make_node(op, ins, outs, name=f"io/{outs[0].split('/')[-1]}", **attrs)
    # channel reorder on NCHW planes (contiguous blocks), not on the interleaved last axis
    pre = [n("Cast", [INPUT], ["io/frame_float"], to=TensorProto.FLOAT),
           n("Transpose", ["io/frame_float"], ["io/frame_planes"], perm=[0, 3, 1, 2])]
    x = "io/frame_planes"
    if order == "bgr":
        pre.append(n("Gather", [x, "io/bgr"], ["io/frame_rgb"], axis=1))
        x = "io/frame_rgb"
    pre += [n("Div", [x, "io/scale"], ["io/frame_nchw"]),
            # pad = ceil(hw / m) * m - hw, edge-replicated at the bottom and right
            n("Shape", ["io/frame_float"], ["io/frame_shape"]),  # of the Cast: TensorRT takes UINT8 I/O only into a Cast
            n("Slice", ["io/frame_shape", "io/hw_start", "io/hw_end"], ["io/frame_hw"]),
            n("Sub", ["io/frame_hw", "io/hw_start"], ["io/hw_less_1"]),
            n("Div", ["io/hw_less_1", "io/multiple"], ["io/blocks_less_1"]),
            n("Add", ["io/blocks_less_1", "io/hw_start"], ["io/blocks"]),
            n("Mul", ["io/blocks", "io/multiple"], ["io/padded_hw"]),
            n("Sub", ["io/padded_hw", "io/frame_hw"], ["io/pad_hw"]),
            n("Concat", ["io/zeros6", "io/pad_hw"], ["io/pads"], axis=0),
            n("Pad", ["io/frame_nchw", "io/pads"], ["io/padded" if in_type != TensorProto.FLOAT else CORE_INPUT],
              mode="edge")]
    if in_type != TensorProto.FLOAT:
        pre.append(n("Cast", ["io/padded"], [CORE_INPUT], to=in_type))
    y = CORE_OUTPUT
    post = []
    if out_type != TensorProto.FLOAT:
        post.append(n("Cast", [y], ["io/out_float"], to=TensorProto.FLOAT))
        y = "io/out_float"
    post.append(n("Slice", [y, "io/starts", "io/frame_hw", "io/axes_hw"], ["io/cropped"]))
    y = "io/cropped"
    if order == "bgr":
        post.append(n("Gather", [y, "io/bgr"], ["io/out_bgr"], axis=1))
        y = "io/out_bgr"
    # round half up and clip BEFORE the cast: float -> uint8 truncates (and is undefined outside
    # [0, 256) in TensorRT); this is rgb_float_to_bgr's arithmetic. The Cast is last: TensorRT
    # takes a UINT8 network output only from a cast of a float tensor.
    post += [n("Clip", [y, "io/zero", "io/one"], ["io/out_clipped"]),
             n("Mul", ["io/out_clipped", "io/scale"], ["io/out_255"]),
             n("Add", ["io/out_255", "io/half"], ["io/out_half_up"]),
             n("Floor", ["io/out_half_up"], ["io/out_rounded"]),
             n("Transpose", ["io/out_rounded"], ["io/out_nhwc"], perm=[0, 2, 3, 1]),
             n("Cast", ["io/out_nhwc"], [OUTPUT], to=TensorProto.UINT8)]
    nodes = pre + list(graph.node) + post
    del graph.node[:]
    graph.node.extend(nodes)
    # the core's I/O types stay on record (float_core restores them)
    for record, name in ((core_in, CORE_INPUT), (core_out, CORE_OUTPUT)):
        kept = graph.value_info.add()
        kept.CopyFrom(record)
        kept.name = name
    del graph.input[:], graph.output[:]
    graph.input.append(helper.make_tensor_value_info(INPUT, TensorProto.UINT8, [batch, *frame_hw, 3]))
    graph.output.append(helper.make_tensor_value_info(OUTPUT, TensorProto.UINT8, [batch, *frame_hw, 3]))
    from .graph import set_metadata

    set_metadata(out, META.io, "uint8")
    set_metadata(out, META.channel_order, order)
    return out


def float_core(model):
    """The float network inside a uint8 model, exactly as it was before wrap (a new ModelProto);
    a float model is returned as it is."""
    import onnx

    if not is_uint8(model):
        return model
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    records = {v.name: v for v in graph.value_info if v.name in (CORE_INPUT, CORE_OUTPUT)}
    if len(records) != 2:
        raise IfanError("a uint8 model without the record of its float core's I/O (io/network_input, "
                        "io/network_output): export it again with `ifan export --io uint8`")
    core = [node for node in graph.node if not node.name.startswith(IO_PREFIX)]
    for node in core:
        node.input[:] = [INPUT if n == CORE_INPUT else n for n in node.input]
        node.output[:] = [OUTPUT if n == CORE_OUTPUT else n for n in node.output]
    del graph.node[:]
    graph.node.extend(core)
    keep = [t for t in graph.initializer if not t.name.startswith(IO_PREFIX)]
    del graph.initializer[:]
    graph.initializer.extend(keep)
    kept_info = [v for v in graph.value_info if v.name not in records]
    del graph.value_info[:]
    graph.value_info.extend(kept_info)
    del graph.input[:], graph.output[:]
    graph.input.append(records[CORE_INPUT])
    graph.input[0].name = INPUT
    graph.output.append(records[CORE_OUTPUT])
    graph.output[0].name = OUTPUT
    props = [p for p in out.metadata_props if p.key not in (META.io, META.channel_order)]
    del out.metadata_props[:]
    out.metadata_props.extend(props)
    return out


def rewrap_like(core, original):
    """core (a float graph made from original's core, e.g. its FP16 or INT8 version) with
    original's I/O: wrapped again when original was a uint8 model."""
    return wrap(core, channel_order(original)) if is_uint8(original) else core


def _dims(value_info) -> list:
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
            for d in value_info.type.tensor_type.shape.dim]
