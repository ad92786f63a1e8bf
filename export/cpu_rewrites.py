"""Rewrites that make an FP32 IFAN graph fast and light on ONNX Runtime's CPU provider; the
ONNX Runtime executor applies them in memory whenever it runs on the CPU (measured in bench/:
together with the session options, 2.47x faster than the PyTorch eager baseline at 35 % of its
peak memory at 1280x720).

- the IFAN_IAC plugin node, if any, becomes the standard-op IAC (export.twin): plain ONNX ops
  that ONNX Runtime fuses and runs in its own threads, instead of a Python kernel;
- ``stream_filters``: the filter predictor's last 1x1 conv makes F, the largest tensor of the
  network (501 MB at 1280x720 even after kernel2 pruning), and the IAC then only reads channel
  slices of it. Slice(Conv(x, W, b), channels) == Conv(x, W[channels], b[channels]), so each
  slice becomes its own small conv, computed when the IAC needs it: F is never materialised
  (never materialise what can be streamed). Each output channel is the
  same dot product as before, so results are unchanged up to the GEMM's summation order;
- ``subpixel_conv_transpose``: the upconvs as convs + DepthToSpace (see below).
"""

from __future__ import annotations

import numpy as np

from ifan_trt.contract import IAC_FILTERS


def optimise_for_cpu(model):
    """(model, {rewrite: count}) with the rewrites above applied where they fit. Q/DQ graphs are
    left as the quantizer laid them out (ONNX Runtime fuses its own patterns there)."""
    from ifan_trt.export import graph as graphs
    from ifan_trt.export import twin

    applied: dict[str, int] = {}
    if graphs.has_qdq(model):
        return model, applied
    if graphs.plugin_nodes(model):
        model = twin.standard_twin(model)
        applied["plugin node as standard ops"] = 1
    try:
        model, applied["filter slices streamed"] = stream_filters(model)
    except ValueError:  # not an IFAN filter predictor (or already streamed)
        pass
    model, applied["upconvs as sub-pixel convs"] = subpixel_conv_transpose(model)
    return model, {k: v for k, v in applied.items() if v}


def slice_indices(start: int, end: int, step: int, size: int) -> list[int]:
    """The indices an ONNX Slice on one axis of length size keeps (negative and huge values clamp)."""
    if step == 0:
        raise ValueError("Slice step must not be 0")
    return list(range(size))[slice(start, end, step)]


def stream_filters(model, filters: str = IAC_FILTERS):
    """A copy of model where every channel Slice of the tensor `filters` (made by a Conv) is its
    own Conv over the rows of the weights it keeps; the big conv goes when nothing else reads it.
    Returns (model, number of slices rewritten)."""
    import onnx
    from onnx import helper, numpy_helper

    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    inits = {t.name: t for t in graph.initializer}
    producer = next((n for n in graph.node if filters in n.output), None)
    if producer is None or producer.op_type != "Conv":
        raise ValueError(f"{filters}: not produced by a Conv in this graph")
    if len(producer.input) < 2 or producer.input[1] not in inits:
        raise ValueError(f"{filters}: the Conv's weights are not an initializer")
    weight = numpy_helper.to_array(inits[producer.input[1]])
    bias = numpy_helper.to_array(inits[producer.input[2]]) if len(producer.input) > 2 else None
    channels = weight.shape[0]

    def const(name):
        if name not in inits:
            raise ValueError(f"{name}: Slice parameters must be initializers to stream {filters}")
        return numpy_helper.to_array(inits[name]).tolist()

    new_nodes, rewritten, kept_readers = [], 0, 0
    for node in graph.node:
        if node is producer:
            continue
        if filters not in node.input:
            new_nodes.append(node)
            continue
        axes = const(node.input[3]) if node.op_type == "Slice" and len(node.input) > 3 else None
        if node.op_type != "Slice" or axes not in ([1], [-3]):
            kept_readers += 1
            new_nodes.append(node)
            continue
        steps = const(node.input[4]) if len(node.input) > 4 and node.input[4] else [1]
        rows = slice_indices(const(node.input[1])[0], const(node.input[2])[0], steps[0], channels)
        prefix = f"{node.name or node.output[0]}/stream"
        w_name, b_name = f"{prefix}/W", f"{prefix}/B"
        graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(weight[rows]), w_name))
        inputs = [producer.input[0], w_name]
        if bias is not None:
            graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(bias[rows]), b_name))
            inputs.append(b_name)
        conv = helper.make_node("Conv", inputs, list(node.output), name=f"{prefix}/Conv")
        conv.attribute.extend(producer.attribute)
        new_nodes.append(conv)
        rewritten += 1
    if kept_readers:  # something else reads F: keep the big conv before its first reader
        first = next(i for i, n in enumerate(new_nodes) if filters in n.input)
        new_nodes.insert(first, producer)
    del graph.node[:]
    graph.node.extend(new_nodes)
    drop_unused_initializers(graph)
    return out, rewritten


def drop_unused_initializers(graph) -> None:
    used = {name for node in graph.node for name in node.input}
    used.update(o.name for o in graph.output)
    keep = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)


# ---- transposed convolutions as sub-pixel convolutions ------------------------------------------
#
# ONNX Runtime's CPU ConvTranspose runs a GEMM into a column buffer of Cout*kh*kw x (input pixels)
# and scatters it (col2im): for IFAN's last upconv at 1280x720 that buffer is 472 MB, the peak of
# the whole FP32 graph once F is streamed. A stride-s transposed conv is s*s ordinary convs on the
# input, one per output phase, interleaved: one Conv with s*s*Cout outputs followed by
# DepthToSpace (CRD). The LeakyReLU that follows commutes with the interleave, so it moves before
# it, where ONNX Runtime fuses it into the Conv.


def subpixel_taps(k: int, stride: int, pad: int) -> tuple[int, dict[tuple[int, int], int]]:
    """For one axis: (lowest input offset, {(phase, offset - lowest): tap of the transposed kernel}).

    Output o = stride*m + phase reads input m + d through tap t where o = stride*(m + d) - pad + t.
    """
    taps = {}
    for phase in range(stride):
        for t in range(k):
            num = phase + pad - t
            if num % stride == 0:
                taps[(phase, num // stride)] = t
    low = min(d for _, d in taps)
    return low, {(phase, d - low): t for (phase, d), t in taps.items()}


def subpixel_weights(weight: np.ndarray, bias: np.ndarray | None, stride: int, pad: int):
    """ConvTranspose weights (Cin, Cout, k, k) -> Conv weights (s*s*Cout, Cin, K, K), bias, pads.

    Output channel co*s*s + a*s + b of the conv is phase (a, b) of channel co (DepthToSpace CRD).
    """
    cin, cout, k, k2 = weight.shape
    if k != k2:
        raise ValueError("square transposed kernels only")
    low, taps = subpixel_taps(k, stride, pad)
    size = max(d for _, d in taps) + 1
    conv = np.zeros((cout, stride, stride, cin, size, size), weight.dtype)
    for (a, dy), ty in taps.items():
        for (b, dx), tx in taps.items():
            conv[:, a, b, :, dy, dx] = weight[:, :, ty, tx].T
    conv = conv.reshape(cout * stride * stride, cin, size, size)
    # input offsets low..low+size-1 around m: pad -low before and size-1+low after
    pads = [-low, -low, size - 1 + low, size - 1 + low]
    new_bias = None if bias is None else np.repeat(bias, stride * stride).astype(bias.dtype)
    return conv, new_bias, pads


def _attr(node, name, default):
    from onnx import helper

    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def subpixel_conv_transpose(model):
    """A copy of model with every stride-s ConvTranspose (group 1, square kernel k, symmetric pads
    p with k - 2p == s, so the output is exactly s times the input; no output padding) replaced by Conv + DepthToSpace. Returns (model, number replaced)."""
    import onnx
    from onnx import helper, numpy_helper

    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    inits = {t.name: t for t in graph.initializer}
    readers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    new_nodes, replaced, moved = [], 0, set()
    for node in graph.node:
        if id(node) in moved:
            continue
        if node.op_type != "ConvTranspose" or node.input[1] not in inits:
            new_nodes.append(node)
            continue
        strides = list(_attr(node, "strides", [1, 1]))
        pads = list(_attr(node, "pads", [0, 0, 0, 0]))
        if (_attr(node, "group", 1) != 1 or len(set(strides)) != 1 or len(set(pads)) != 1
                or any(_attr(node, "output_padding", [0, 0])) or any(d != 1 for d in _attr(node, "dilations", [1, 1]))
                or _attr(node, "auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET")):
            new_nodes.append(node)
            continue
        weight = numpy_helper.to_array(inits[node.input[1]])
        if weight.shape[2] != weight.shape[3] or weight.shape[2] - 2 * pads[0] != strides[0]:
            new_nodes.append(node)  # output is not exactly stride x input: no plain interleave
            continue
        bias = numpy_helper.to_array(inits[node.input[2]]) if len(node.input) > 2 and node.input[2] else None
        conv_w, conv_b, conv_pads = subpixel_weights(weight, bias, strides[0], pads[0])
        prefix = f"{node.name or node.output[0]}/subpixel"
        graph.initializer.append(numpy_helper.from_array(conv_w, f"{prefix}/W"))
        inputs = [node.input[0], f"{prefix}/W"]
        if conv_b is not None:
            graph.initializer.append(numpy_helper.from_array(conv_b, f"{prefix}/B"))
            inputs.append(f"{prefix}/B")
        new_nodes.append(helper.make_node("Conv", inputs, [f"{prefix}/conv"], name=f"{prefix}/Conv",
                                          kernel_shape=list(conv_w.shape[2:]), pads=conv_pads))
        last, final = f"{prefix}/conv", node.output[0]
        after = readers.get(node.output[0], [])
        if len(after) == 1 and after[0].op_type == "LeakyRelu":  # elementwise: apply before the interleave
            act = after[0]
            moved.add(id(act))
            new_nodes.append(helper.make_node("LeakyRelu", [last], [f"{prefix}/act"], name=f"{prefix}/LeakyRelu",
                                              alpha=_attr(act, "alpha", 0.01)))
            last, final = f"{prefix}/act", act.output[0]
        new_nodes.append(helper.make_node("DepthToSpace", [last], [final], name=f"{prefix}/DepthToSpace",
                                          blocksize=strides[0], mode="CRD"))
        replaced += 1
    del graph.node[:]
    graph.node.extend(new_nodes)
    drop_unused_initializers(graph)
    return out, replaced
