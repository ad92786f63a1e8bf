"""The facts every floor shares, in one place: the IAC plugin's name, version, namespace and
attributes, the boundary tensor and node names, the ONNX metadata keys, the size multiple, and the IAC's mode/layout codes and filter-channel arithmetic.

Torch-free and ONNX-free on purpose: the runtime (Jetson, no torch), the export, the calibration
and the checkpoint loader all read it. The plugin half of the contract is fixed with the TensorRT
plugin (plugins/iacPlugin/): change both or neither (a test compares them).
"""

from __future__ import annotations


# The IAC as one node. TensorRT's ONNX parser looks an unknown op_type up as a plugin of that
# name (version and namespace from the node attributes). The domain is only there so ONNX tools
# accept the node as a custom op; "trt.plugins" is the domain NVIDIA's tools use for plugin nodes.
PLUGIN_OP = "IFAN_IAC"
PLUGIN_DOMAIN = "trt.plugins"
PLUGIN_VERSION = "1"
PLUGIN_NAMESPACE = ""
# the plugin's own fields (INT32 except slope, FLOAT32), in the order the creator declares them
PLUGIN_FIELDS = ("N", "k", "mode", "layout", "slope")

# Names of the IAC's boundary tensors, identical in both forms (plugin node / standard ops), so
# that anything keyed by tensor name (Q/DQ scales, profiles, debugging) applies to either.
IAC_FEATURES = "iac_features"
IAC_FILTERS = "iac_filters"
IAC_OUTPUT = "iac_output"
# standard-op form: every node of the IAC is named with this prefix (easy to exclude or select)
IAC_NODE_PREFIX = "iac/"

IAC_FORMS = ("plugin", "onnx")
INPUT, LEFT, RIGHT, OUTPUT = "input", "left", "right", "output"
SIZE_MULTIPLE = 8
DEFAULT_OPSET = 19  # >= 17 for the standard ops; 19 so the precision work may use FP16 scales

META_PREFIX = "ifan."


class META:
    """Keys of the model's ONNX metadata_props (and of an engine sidecar's "metadata"): what the
    export records and the precision steps add, read by every later step instead of asking again."""
    variant = "ifan.variant"
    n_iters = "ifan.n_iters"
    dual = "ifan.dual"
    in_bit = "ifan.in_bit"
    iac_mode = "ifan.iac_mode"
    iac_form = "ifan.iac_form"
    # "true": each IAC iteration is its own one-iteration node fed by its own slice of the filter
    # conv (export/iac_split.py), so F is never written; per-iteration filters are iac_filters_<i>.
    # Absent or "false": the one-node form with one iac_filters tensor.
    iac_split = "ifan.iac_split"
    filter_layout = "ifan.filter_layout"
    normalization = "ifan.normalization"
    size_multiple = "ifan.size_multiple"
    tool_version = "ifan.tool_version"
    checkpoint_sha256 = "ifan.checkpoint_sha256"
    precision = "ifan.precision"
    fp32_nodes = "ifan.fp32_nodes"
    int8_target = "ifan.int8_target"
    calibration = "ifan.calibration"


META_KEYS = tuple(v for k, v in vars(META).items() if not k.startswith("_"))
# what every export writes; the precision steps add fp32_nodes, int8_target and calibration
META_EXPORT_KEYS = tuple(k for k in META_KEYS if k not in (META.fp32_nodes, META.int8_target, META.calibration))


def normalization(in_bit: int) -> str:
    """How pixel values become the network's [0, 1] input."""
    return f"rgb/{(1 << in_bit) - 1}"


# ---------------------------------------------------------------- the IAC's filter tensor F
# Modes: "official" reads kernel1 for both passes (every released checkpoint was trained that
# way); "corrected" reads kernel2 for the horizontal pass. Layouts of F's channel axis:
# "full" = N blocks of [kernel1 (c*k), kernel2 (c*k)], then N blocks of bias (c);
# "compact" = N blocks of kernel1 (c*k), then N blocks of bias (c) (official mode only).
# Within a kernel the channel of feature channel ch and tap t is ch*k + t. The plugin takes the
# mode and layout as INT attributes with these codes (plugins/iacPlugin/iacMath.h).
MODES = ("official", "corrected")
LAYOUTS = ("full", "compact")
MODE_CODES = {"official": 0, "corrected": 1}
LAYOUT_CODES = {"full": 0, "compact": 1}
DEFAULT_K = 3
DEFAULT_SLOPE = 0.1


def _named(value: str | int, names: tuple[str, ...], codes: dict[str, int], what: str) -> str:
    """A mode or layout given by name or by its INT code, as its name."""
    if isinstance(value, str) and value in names:
        return value
    if not isinstance(value, str) and value in codes.values():
        return names[int(value)]
    raise ValueError(f"unknown IAC {what} {value!r}; expected one of {names} (codes 0, 1)")


def _layout_name(layout: str | int) -> str:
    return _named(layout, LAYOUTS, LAYOUT_CODES, "filter layout")


def _mode_name(mode: str | int) -> str:
    return _named(mode, MODES, MODE_CODES, "mode")


_COMPACT_NEEDS_OFFICIAL = "the compact layout drops kernel2, which corrected mode (1) reads: use layout 0"


def check_layout(mode: str | int, layout: str | int) -> None:
    if _mode_name(mode) == "corrected" and _layout_name(layout) == "compact":
        raise ValueError(_COMPACT_NEEDS_OFFICIAL)


def filters_per_channel(n_iters: int, k: int, layout: str | int = "full") -> int:
    """Channels of F per feature channel: N*(2k+1) full, N*(k+1) compact."""
    return n_iters * ((2 * k + 1) if _layout_name(layout) == "full" else (k + 1))


def filter_channels(n_iters: int, c: int, k: int, layout: str | int = "full") -> int:
    """Channels of F: N*c*(2k+1) full, N*c*(k+1) compact."""
    return c * filters_per_channel(n_iters, k, layout)


def iteration_channels(i: int, n_iters: int, c: int, k: int, mode: str | int,
                       layout: str | int) -> tuple[int, int, int]:
    """First channel of F of iteration i's vertical kernel, horizontal kernel and bias; tap t of
    feature channel ch is at start + ch*k + t, the bias of ch at bias + ch."""
    check_layout(mode, layout)
    per_iter = c * k * (2 if _layout_name(layout) == "full" else 1)
    vertical = i * per_iter
    horizontal = vertical + (c * k if _mode_name(mode) == "corrected" else 0)
    return vertical, horizontal, n_iters * per_iter + i * c


def compact_rows(n_iters: int, c: int, k: int) -> list[int]:
    """Channels of the full layout that the compact layout keeps, in compact order."""
    rows = []
    for i in range(n_iters):
        start = i * 2 * c * k
        rows.extend(range(start, start + c * k))
    bias_start = n_iters * 2 * c * k
    rows.extend(range(bias_start, bias_start + n_iters * c))
    return rows


MAX_TAPS = 7  # the plugin's kMAX_TAPS: the largest k its kernels unroll


def iac_problem_error(features_shape: tuple, filters_shape: tuple, n_iters: int, k: int,
                      mode: str | int, layout: str | int) -> str | None:
    """Why features and filters of these shapes, with these attributes, are not one IAC problem,
    or None. The attribute checks are the plugin's problemError (iacMath.h), in its order and its
    words; then the ranks and F's channel count."""
    if n_iters < 1:
        return "N (iterations) must be >= 1"
    if k < 1 or k > MAX_TAPS or k % 2 == 0:
        return f"k must be odd and between 1 and {MAX_TAPS}"
    if mode not in MODES and mode not in MODE_CODES.values():
        return "mode must be 0 (official) or 1 (corrected)"
    if layout not in LAYOUTS and layout not in LAYOUT_CODES.values():
        return "layout must be 0 (full) or 1 (compact)"
    if _mode_name(mode) == "corrected" and _layout_name(layout) == "compact":
        return _COMPACT_NEEDS_OFFICIAL
    features_shape, filters_shape = tuple(features_shape), tuple(filters_shape)
    if len(features_shape) != 4 or len(filters_shape) != 4:
        return f"features and filters must be 4-D (B, c, h, w), got {features_shape} and {filters_shape}"
    b, c, h, w = features_shape
    expected = (b, filter_channels(n_iters, c, k, layout), h, w)
    if filters_shape != expected:
        return (f"filters have shape {filters_shape}; N={n_iters}, k={k}, layout {_layout_name(layout)} "
                f"and features {features_shape} need {expected}")
    return None
