"""What the ONNX export promises to the steps after it: the IAC plugin node and the metadata.

Torch-free on purpose: the runtime (Jetson, no torch) and the calibration read these names.
The plugin contract is fixed with the TensorRT plugin (plugins/): change both or neither.
"""

from __future__ import annotations

import os

from ifan_trt.errors import IfanError

# The IAC as one node. TensorRT's ONNX parser looks an unknown op_type up as a plugin of that
# name (version and namespace from the node attributes). The domain is only there so ONNX tools
# accept the node as a custom op; "trt.plugins" is the domain NVIDIA's tools use for plugin nodes.
PLUGIN_OP = "IFAN_IAC"
PLUGIN_DOMAIN = "trt.plugins"
PLUGIN_VERSION = "1"
PLUGIN_NAMESPACE = ""
PLUGIN_ATTRIBUTES = ("plugin_version", "plugin_namespace", "N", "k", "mode", "layout", "slope")

# Names of the IAC's boundary tensors, identical in both forms (plugin node / standard ops), so
# that anything keyed by tensor name (Q/DQ scales, profiles, debugging) applies to either.
IAC_FEATURES = "iac_features"
IAC_FILTERS = "iac_filters"
IAC_OUTPUT = "iac_output"
# standard-op form: every node of the IAC is named with this prefix (easy to exclude or select)
IAC_NODE_PREFIX = "iac/"

IAC_FORMS = ("plugin", "onnx")
# "true" when each IAC iteration is its own one-iteration node fed by its own slice of the filter
# conv (ifan_trt.export.iac_split): F is never written; boundary names as above, per-iteration filters
# named iac_filters_<i>. Absent or "false": the one-node form with one iac_filters tensor.
META_IAC_SPLIT = "ifan.iac_split"
# graph and engine precisions (fp32..int8-fp16 for TensorRT; cpu-int8 is the CPU INT8 graph)
PRECISIONS = ("fp32", "fp16", "int8", "int8-fp16")
INPUT, LEFT, RIGHT, OUTPUT = "input", "left", "right", "output"
SIZE_MULTIPLE = 8
DEFAULT_OPSET = 19  # >= 17 for the standard ops; 19 so the precision work may use FP16 scales

META_PREFIX = "ifan."
META_KEYS = (
    "ifan.variant",
    "ifan.n_iters",
    "ifan.dual",
    "ifan.in_bit",
    "ifan.iac_mode",
    "ifan.iac_form",
    "ifan.iac_split",
    "ifan.filter_layout",
    "ifan.normalization",
    "ifan.size_multiple",
    "ifan.tool_version",
    "ifan.checkpoint_sha256",
    "ifan.precision",
)


def normalization(in_bit: int) -> str:
    """How pixel values become the network's [0, 1] input."""
    return f"rgb/{(1 << in_bit) - 1}"


def read_metadata(model) -> dict[str, str]:
    """The ``ifan.*`` metadata of an ONNX file path or ModelProto (weights are not loaded)."""
    if isinstance(model, (str, os.PathLike)):
        import onnx

        model = onnx.load(os.fspath(model), load_external_data=False)
    return {p.key: p.value for p in model.metadata_props if p.key.startswith(META_PREFIX)}


def parse_shape(text: str) -> tuple[int, int]:
    """'HxW' -> (H, W), both positive multiples of 8."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise IfanError(f"--shape {text!r}: expected HxW, e.g. 720x1280") from None
    check_shape((h, w), f"--shape {text}")
    return h, w


def check_shape(shape: tuple[int, int], what: str = "shape") -> None:
    h, w = shape
    if h <= 0 or w <= 0 or h % SIZE_MULTIPLE or w % SIZE_MULTIPLE:
        raise IfanError(f"{what}: height and width must be positive multiples of {SIZE_MULTIPLE} "
                        f"(got {h}x{w}); pad the image, the runtime crops back")
