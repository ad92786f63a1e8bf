"""Run an FP16 graph on the CPU the way a GPU stores it: every FP16 tensor rounded.

ONNX Runtime's CPU provider has few FP16 kernels; it computes such nodes in FP32 and removes the
FP16 round trips it inserted between them, so an FP16 graph run as it is keeps FP32 values
between nodes (an overflow to inf, for one, never shows). The emulation rewrites the graph to
FP32 arithmetic with an explicit Cast to FP16 and back after every tensor the graph types as
FP16 (ONNX Runtime keeps explicit casts). Arithmetic inside a node stays FP32, as TensorRT's
FP16 convolutions accumulate in FP32.
"""

from __future__ import annotations

from ifan_trt.errors import IfanError

from ifan_trt.export import graph as graphs


def tensor_types(model) -> dict[str, int]:
    """Element types of all tensors: ONNX inference, then propagation through nodes it could not
    type (custom ops such as IFAN_IAC: output type = first input's)."""
    from onnx import TensorProto, helper

    types = dict(graphs.value_types(model))
    for node in model.graph.node:
        for idx, out in enumerate(node.output):
            if types.get(out):
                continue
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            if node.op_type == "Cast":
                types[out] = attrs["to"]
            elif node.op_type == "QuantizeLinear":
                zp = node.input[2] if len(node.input) > 2 else ""
                types[out] = types.get(zp, TensorProto.UINT8)
            elif node.op_type == "DequantizeLinear":
                types[out] = types.get(node.input[1], TensorProto.FLOAT)
            elif node.op_type in ("Shape", "Size"):
                types[out] = TensorProto.INT64
            else:
                known = [types[i] for i in node.input if types.get(i)]
                if known:
                    types[out] = known[0]
    return types


def has_fp16(model) -> bool:
    from onnx import TensorProto

    return any(t == TensorProto.FLOAT16 for t in tensor_types(model).values())


def emulate_fp16(model):
    """FP32 graph computing what model (with FP16 tensors) computes, FP16 roundings explicit."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    types = tensor_types(model)
    out = onnx.ModelProto()
    out.CopyFrom(model)
    for init in out.graph.initializer:
        if init.data_type == TensorProto.FLOAT16:
            init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float32), init.name))
    for vi in list(out.graph.input) + list(out.graph.output):
        if vi.type.tensor_type.elem_type == TensorProto.FLOAT16:
            raise IfanError(f"{vi.name}: FP16 graph input/output; the precision tools keep I/O in FP32")
    del out.graph.value_info[:]  # types change: let ONNX Runtime infer them again
    nodes = []
    for node in out.graph.node:
        half_outputs = [o for o in node.output if o and types.get(o) == TensorProto.FLOAT16]
        if node.op_type == "Cast" and half_outputs:
            # Cast to FP16 -> round trip; the tensor carries FP16 values in FP32
            del node.attribute[:]
            node.attribute.append(helper.make_attribute("to", TensorProto.FLOAT16))
        for o in half_outputs:
            idx = list(node.output).index(o)
            raw = f"{o}/fp32"
            node.output[idx] = raw
        nodes.append(node)
        for o in half_outputs:
            raw = f"{o}/fp32"
            if node.op_type == "Cast":  # already cast to FP16 above: only back to FP32
                nodes.append(helper.make_node("Cast", [raw], [o], to=TensorProto.FLOAT, name=f"{o}/emulate_back"))
                continue
            nodes.append(helper.make_node("Cast", [raw], [f"{o}/fp16"], to=TensorProto.FLOAT16,
                                          name=f"{o}/emulate_round"))
            nodes.append(helper.make_node("Cast", [f"{o}/fp16"], [o], to=TensorProto.FLOAT,
                                          name=f"{o}/emulate_back"))
    del out.graph.node[:]
    out.graph.node.extend(nodes)
    return out


def cpu_model(model):
    """What to run on the CPU for model: the emulation when it has FP16 tensors, else model."""
    return emulate_fp16(model) if has_fp16(model) else model
