"""The IAC alone as a TensorRT network, two ways: one IFAN_IAC plugin layer, or TensorRT's own
layers (clamped Slices, elementwise Mul/Add, LeakyReLU) as the baseline the plugin must beat.
Used by the plugin's GPU tests and by bench/iac_plugin_gpu.py.

Thin TensorRT glue: the caller passes the imported ``tensorrt`` module (nothing is imported
here at module level); networks are strongly typed, so precision follows the input type.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ifan_trt.errors import IfanError
from ifan_trt.runtime.tensorrt.plugin_library import PLUGIN_NAME, PLUGIN_NAMESPACE, PLUGIN_VERSION

from ifan_trt.contract import IAC_FEATURES as FEATURES, IAC_FILTERS as FILTERS, IAC_OUTPUT as OUTPUT  # noqa: E402


@dataclass(frozen=True)
class IacSpec:
    """Attributes of one IAC node (the plugin contract: N, k, mode, layout, slope)."""

    n_iters: int
    k: int = 3
    mode: int = 0    # 0 official (kernel1 twice), 1 corrected (kernel2)
    layout: int = 0  # 0 full, 1 compact
    slope: float = 0.1

    def filter_channels(self, c: int) -> int:
        return self.n_iters * c * (2 * self.k + 1 if self.layout == 0 else self.k + 1)

    def plugin_fields(self, trt):
        i32 = trt.PluginFieldType.INT32
        return trt.PluginFieldCollection([
            trt.PluginField("N", np.array([self.n_iters], np.int32), i32),
            trt.PluginField("k", np.array([self.k], np.int32), i32),
            trt.PluginField("mode", np.array([self.mode], np.int32), i32),
            trt.PluginField("layout", np.array([self.layout], np.int32), i32),
            trt.PluginField("slope", np.array([self.slope], np.float32), trt.PluginFieldType.FLOAT32),
        ])


def iac_traffic_bytes(shape, spec: IacSpec, elem_bytes: int) -> int:
    """Bytes an IAC must move at least (each tensor element read or written once), all iterations:
    per iteration the features x_i, the kernel taps (k in official mode, 2k corrected), the bias,
    and the output x_{i+1}, each one feature map of B*c*h*w elements."""
    b, c, h, w = shape
    taps = spec.k * (2 if spec.mode == 1 else 1)
    return spec.n_iters * (1 + taps + 1 + 1) * b * c * h * w * elem_bytes


def strongly_typed_network(trt, builder):
    flag = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    return builder.create_network(flag)


def add_plugin_iac(trt, network, features, filters, spec: IacSpec):
    """One IFAN_IAC plugin layer (the plugin library must be loaded: load_plugin())."""
    registry = trt.get_plugin_registry()
    getter = getattr(registry, "get_creator", None) or registry.get_plugin_creator
    creator = getter(PLUGIN_NAME, PLUGIN_VERSION, PLUGIN_NAMESPACE)
    if creator is None:
        raise IfanError(f"{PLUGIN_NAME}: plugin creator not registered; call ifan_trt.runtime.tensorrt.plugin_library.load_plugin()")
    plugin = creator.create_plugin("iac", spec.plugin_fields(trt), trt.TensorRTPhase.BUILD)
    if plugin is None:
        raise IfanError(f"{PLUGIN_NAME}: the plugin rejected its attributes {spec} (see TensorRT's log)")
    return network.add_plugin_v3([features, filters], [], plugin).get_output(0)


def _shifted(trt, network, x, shape, axis: int, offset: int):
    """x shifted by offset along axis with replicate borders (a clamped Slice; static shape)."""
    start = [0, 0, 0, 0]
    start[axis] = offset
    layer = network.add_slice(x, start, shape, [1, 1, 1, 1])
    layer.mode = trt.SampleMode.CLAMP
    return layer.get_output(0)


def _channels(network, filters, shape, first: int, step: int):
    """filters[:, first::step] with shape[1] channels (the taps of one kernel)."""
    return network.add_slice(filters, [0, first, 0, 0], shape, [1, step, 1, 1]).get_output(0)


def add_standard_iac(trt, network, features, filters, spec: IacSpec, shape):
    """The IAC from TensorRT's own layers, for a static features shape (B, c, h, w)."""
    b, c, h, w = shape
    k, p = spec.k, (spec.k - 1) // 2
    per_iter = 2 * c * k if spec.layout == 0 else c * k
    prod, add = trt.ElementWiseOperation.PROD, trt.ElementWiseOperation.SUM
    x = features
    for i in range(spec.n_iters):
        base = i * per_iter
        second = base + (c * k if spec.mode == 1 else 0)
        passes = ((2, base), (3, second))  # vertical with kernel1, horizontal with kernel1/kernel2
        for axis, first in passes:
            acc = None
            for t in range(k):
                term = network.add_elementwise(_channels(network, filters, shape, first + t, k),
                                               _shifted(trt, network, x, shape, axis, t - p), prod).get_output(0)
                acc = term if acc is None else network.add_elementwise(acc, term, add).get_output(0)
            x = acc
        bias = network.add_slice(filters, [0, spec.n_iters * per_iter + i * c, 0, 0], shape, [1, 1, 1, 1]).get_output(0)
        x = network.add_elementwise(x, bias, add).get_output(0)
        act = network.add_activation(x, trt.ActivationType.LEAKY_RELU)
        act.alpha = spec.slope
        x = act.get_output(0)
    return x


def build_iac_engine(trt, logger, form: str, dtype: str, spec: IacSpec, shape, max_shape=None,
                     min_shape=None) -> bytes:
    """Serialised engine of the IAC alone. form: "plugin" or "standard"; dtype: "fp32"/"fp16".
    shape: (B, c, h, w) of the features (the optimisation profile's opt); with min/max_shape the
    plugin engine takes dynamic batch, height and width (the standard form is static)."""
    builder = trt.Builder(logger)
    network = strongly_typed_network(trt, builder)
    trt_type = trt.float16 if dtype == "fp16" else trt.float32
    b, c, h, w = shape
    cf = spec.filter_channels(c)
    dynamic = form == "plugin" and (max_shape is not None or min_shape is not None)
    dims = (-1, c, -1, -1) if dynamic else (b, c, h, w)
    features = network.add_input(FEATURES, trt_type, dims)
    filters = network.add_input(FILTERS, trt_type, (dims[0], cf, dims[2], dims[3]))
    if form == "plugin":
        out = add_plugin_iac(trt, network, features, filters, spec)
    elif form == "standard":
        out = add_standard_iac(trt, network, features, filters, spec, shape)
    else:
        raise IfanError(f"iac form {form!r}: expected plugin or standard")
    out.name = OUTPUT
    network.mark_output(out)
    config = builder.create_builder_config()
    if hasattr(trt.BuilderFlag, "TF32"):
        config.clear_flag(trt.BuilderFlag.TF32)  # FP32 means FP32 in the comparison with PyTorch
    if dynamic:
        lo, hi = min_shape or shape, max_shape or shape
        profile = builder.create_optimization_profile()
        profile.set_shape(FEATURES, lo, shape, hi)
        profile.set_shape(FILTERS, (lo[0], cf, lo[2], lo[3]), (b, cf, h, w), (hi[0], cf, hi[2], hi[3]))
        config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise IfanError(f"IAC {form} engine ({dtype}, {shape}): TensorRT could not build it (see its log)")
    return bytes(serialized)
