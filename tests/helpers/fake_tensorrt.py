"""A stand-in for TensorRT's Python module, for tests on machines without a GPU or TensorRT.

Written from the documented API of TensorRT 10.3 and 11.x (NvInfer*.h and python/src at v10.3.0
and v11.1), with two personalities where they differ:

- NetworkDefinitionCreationFlag: 10.x has EXPLICIT_BATCH = 0 and STRONGLY_TYPED = 1; 11.x has
  STRONGLY_TYPED = 0 (deprecated and ignored: every 11.x network is strongly typed) and no
  EXPLICIT_BATCH. 10.x's weak-typing builder flags (FP16, INT8, ...) do not exist on 11.x.
- The inspector's tensor types: "Format/Datatype" on 10.x; "DataType" and "Format" on 11.x.

What it does as TensorRT does: the ONNX parser reads the real ONNX file and looks every op it
does not know (IFAN_IAC) up in the plugin registry by name, ``plugin_version`` and
``plugin_namespace``, creating the plugin with the creator's declared field types (an
unregistered plugin, a wrong field type, a weakly typed 10.x network fail the build with
TensorRT's kind of message); optimization profiles are checked against the graph's fixed
dimensions; the plan embeds the ONNX model and the stand-in's version and deserialises only
with the same version; a version-compatible plan that embeds a plugin library refuses a second
registration of that plugin in one process. An execution context needs set_input_shape within
the active profile and set_tensor_address for every I/O tensor before execute_async_v3, which
runs the plan's graph with ONNX Runtime (the IFAN_IAC node through the project's NumPy IAC,
export/ort_plugin.py) on the CUDA stand-in's stream, reading and writing the device buffers
that the addresses name (tests/helpers/fake_cuda.py). Activation memory as 10.3 and 11.x give it:
``device_memory_size_v2`` (the stand-in's figure: ACTIVATION_FACTOR bytes per byte of the largest
input); a context created with STATIC (the default) or ON_PROFILE_CHANGE books its own block
(``FakeGpu.context_memory``, released with the context); a USER_MANAGED one runs only in the
block ``set_device_memory(ptr, size)`` gave it (no block, one below the active profile's size or
one that is not device memory fail the enqueue), and an execution that could start, by its
dependencies, while another is still using the same block is recorded in
``FakeGpu.unordered_block_uses`` (TensorRT calls that undefined behaviour).

``install(monkeypatch, ...)`` puts it (and the CUDA stand-in) in sys.modules and points
Polygraphy's lazily imported tensorrt at it, so the product's build and executor run unchanged.
"""

from __future__ import annotations

import enum
import importlib.machinery
import json
import re
import sys
import threading
import time
import types
import weakref
from pathlib import Path

import numpy as np

from . import fake_cuda

MAGIC = b"IFAN-TRT-STANDIN-PLAN\x00"
PLUGIN_TAG = re.compile(rb"IFAN_IAC_TENSORRT_VERSION=(\d+)\.(\d+)\.(\d+)")
# IFAN_IAC's creator (plugins/iacPlugin/iacPlugin.cpp): its fields and their declared types
IAC_FIELDS = {"N": "INT32", "k": "INT32", "mode": "INT32", "layout": "INT32", "slope": "FLOAT32"}
_ONNX_TO_TRT = {1: "FLOAT", 10: "HALF", 3: "INT8", 2: "UINT8", 6: "INT32", 7: "INT64", 9: "BOOL", 16: "BF16"}
_NP = {"FLOAT": np.float32, "HALF": np.float16, "INT8": np.int8, "UINT8": np.uint8, "INT32": np.int32,
       "INT64": np.int64, "BOOL": np.bool_}
ACTIVATION_FACTOR = 16  # the stand-in's activation memory: bytes per byte of the largest input
_LAYER_TYPES = {"Conv": "CaskConvolution", "ConvTranspose": "CaskDeconvolution", "IFAN_IAC": "PluginV3",
                "QuantizeLinear": "Quantize", "DequantizeLinear": "Dequantize", "Cast": "Cast"}


def _session_for(model):
    """An ONNX Runtime session of the plan's graph. TensorRT's plugin takes half inputs in either
    IAC form, ORT's IFAN_IAC op not in the split form's: a graph ORT refuses for that runs through
    the FP16 emulation (calib/emulate.py, as `ifan audit` runs FP16 graphs)."""
    from ifan_trt.export.ort_plugin import ort_session

    try:
        return ort_session(model)
    except Exception as exc:  # noqa: BLE001  ORT's own exception types
        if "IFAN_IAC" not in str(exc) or "float16" not in str(exc):
            raise
    from ifan_trt.calib.emulate import cpu_model

    return ort_session(cpu_model(model))


def library_bytes(trt_major: int, version: str = "1.0.0") -> bytes:
    """What the tests write as 'the plugin library': bytes carrying the build tag the loader reads."""
    return b"\x7fELF stand-in " + f"IFAN_IAC_TENSORRT_VERSION={trt_major}.{version.split('.', 1)[1]}".encode()


def make_tensorrt(version: str = "10.3.0.26", gpu: fake_cuda.FakeGpu | None = None,
                  strongly_typed_flag: bool = True) -> types.ModuleType:
    """The tensorrt module of one TensorRT version over gpu (the CUDA stand-in's machine).
    strongly_typed_flag=False: an 11.x release that removed the deprecated flag."""
    gpu = gpu or fake_cuda.FakeGpu()
    major = int(version.split(".")[0])
    trt = types.ModuleType("tensorrt")
    trt.__version__ = version
    trt.__file__ = __file__
    trt.__spec__ = importlib.machinery.ModuleSpec("tensorrt", None)  # importlib.util.find_spec sees it

    def enum_of(name, members):
        return enum.IntEnum(name, members, module="tensorrt")

    trt.DataType = enum_of("DataType", {"FLOAT": 0, "HALF": 1, "INT8": 2, "INT32": 3, "BOOL": 4, "UINT8": 5,
                                        "FP8": 6, "BF16": 7, "INT64": 8, "INT4": 9})
    trt.float32, trt.float16, trt.int8, trt.int32 = (trt.DataType.FLOAT, trt.DataType.HALF, trt.DataType.INT8,
                                                     trt.DataType.INT32)

    def nptype(dtype):
        return _NP[trt.DataType(dtype).name]

    trt.nptype = nptype
    trt.TensorIOMode = enum_of("TensorIOMode", {"NONE": 0, "INPUT": 1, "OUTPUT": 2})
    trt.TensorLocation = enum_of("TensorLocation", {"DEVICE": 0, "HOST": 1})
    trt.TensorFormat = enum_of("TensorFormat", {"LINEAR": 0, "CHW2": 1, "HWC8": 2, "CHW4": 3, "CHW16": 4,
                                                "CHW32": 5})
    flags = {"EXPLICIT_BATCH": 0, "STRONGLY_TYPED": 1} if major < 11 else {"STRONGLY_TYPED": 0,
                                                                            "PREFER_JIT_PYTHON_PLUGINS": 1,
                                                                            "PREFER_AOT_PYTHON_PLUGINS": 2}
    if not strongly_typed_flag:
        flags = {k: v for k, v in flags.items() if k != "STRONGLY_TYPED"} or {"PREFER_JIT_PYTHON_PLUGINS": 1}
    trt.NetworkDefinitionCreationFlag = enum_of("NetworkDefinitionCreationFlag", flags)
    builder_flags = ["DEBUG", "GPU_FALLBACK", "REFIT", "DISABLE_TIMING_CACHE", "TF32", "SPARSE_WEIGHTS",
                     "SAFETY_SCOPE", "DIRECT_IO", "VERSION_COMPATIBLE", "EXCLUDE_LEAN_RUNTIME", "STRIP_PLAN",
                     "WEIGHT_STREAMING"]
    if major < 11:  # weak typing, removed in 11
        builder_flags += ["FP16", "INT8", "BF16", "FP8", "OBEY_PRECISION_CONSTRAINTS",
                          "PREFER_PRECISION_CONSTRAINTS", "REJECT_EMPTY_ALGORITHMS"]
    trt.BuilderFlag = enum_of("BuilderFlag", {n: i for i, n in enumerate(builder_flags)})
    trt.MemoryPoolType = enum_of("MemoryPoolType", {"WORKSPACE": 0, "DLA_MANAGED_SRAM": 1, "DLA_LOCAL_DRAM": 2,
                                                    "DLA_GLOBAL_DRAM": 3, "TACTIC_DRAM": 4,
                                                    "TACTIC_SHARED_MEMORY": 5})
    trt.ProfilingVerbosity = enum_of("ProfilingVerbosity", {"LAYER_NAMES_ONLY": 0, "NONE": 1, "DETAILED": 2})
    trt.LayerInformationFormat = enum_of("LayerInformationFormat", {"ONELINE": 0, "JSON": 1})
    trt.TacticSource = enum_of("TacticSource", {"CUBLAS": 0, "CUBLAS_LT": 1, "CUDNN": 2,
                                                "EDGE_MASK_CONVOLUTIONS": 3, "JIT_CONVOLUTIONS": 4})
    trt.PreviewFeature = enum_of("PreviewFeature", {"PROFILE_SHARING_0806": 0, "ALIASED_PLUGIN_IO_10_03": 1})
    trt.DeviceType = enum_of("DeviceType", {"GPU": 0, "DLA": 1})
    trt.EngineCapability = enum_of("EngineCapability", {"STANDARD": 0, "SAFETY": 1, "DLA_STANDALONE": 2})
    trt.HardwareCompatibilityLevel = enum_of("HardwareCompatibilityLevel", {"NONE": 0, "AMPERE_PLUS": 1})
    trt.TensorRTPhase = enum_of("TensorRTPhase", {"BUILD": 0, "RUNTIME": 1})
    trt.PluginFieldType = enum_of("PluginFieldType", {"FLOAT16": 0, "FLOAT32": 1, "FLOAT64": 2, "INT8": 3,
                                                      "INT16": 4, "INT32": 5, "CHAR": 6, "DIMS": 7, "UNKNOWN": 8,
                                                      "BF16": 9, "INT64": 10, "FP8": 11, "INT4": 12})
    trt.OnnxParserFlag = enum_of("OnnxParserFlag", {"NATIVE_INSTANCENORM": 0})
    trt.LayerType = enum_of("LayerType", {"CONVOLUTION": 0, "PLUGIN_V3": 1, "SHAPE": 2, "ELEMENTWISE": 3})
    trt.QuantizationFlag = enum_of("QuantizationFlag", {"CALIBRATE_BEFORE_FUSION": 0})
    # the same three strategies on 10.3 and 11.x (NvInferRuntime.h, ExecutionContextAllocationStrategy)
    trt.ExecutionContextAllocationStrategy = enum_of("ExecutionContextAllocationStrategy",
                                                     {"STATIC": 0, "ON_PROFILE_CHANGE": 1, "USER_MANAGED": 2})
    trt.Severity = enum_of("Severity", {"INTERNAL_ERROR": 0, "ERROR": 1, "WARNING": 2, "INFO": 3, "VERBOSE": 4})

    class ILogger:
        Severity = trt.Severity
        INTERNAL_ERROR, ERROR, WARNING, INFO, VERBOSE = (trt.Severity(i) for i in range(5))

        def __init__(self):
            pass

        def log(self, severity, msg):  # overridden by subclasses
            pass

    class Logger(ILogger):
        def __init__(self, min_severity=ILogger.WARNING):
            self.min_severity = min_severity

        def log(self, severity, msg):
            if severity <= self.min_severity:
                print(f"[TRT] [{'FEWIV'[int(severity)] if severity else 'F'}] {msg}", file=sys.stderr)

    trt.ILogger, trt.Logger = ILogger, Logger

    def error(logger, msg):
        (logger or Logger()).log(ILogger.ERROR, msg)

    # ---------------------------------------------------------------- plugins
    class PluginField:
        def __init__(self, name="", data=None, type=trt.PluginFieldType.UNKNOWN):  # noqa: A002
            self.name, self.data, self.type = name, data, type
            self.size = 0 if data is None else int(np.asarray(data).size)

    trt.PluginField = PluginField
    trt.PluginFieldCollection = lambda fields=(): list(fields)

    class IAcCreator:
        """IFAN_IAC's IPluginCreatorV3One as the plugin library registers it."""

        name, plugin_version, plugin_namespace = "IFAN_IAC", "1", ""
        interface_info = types.SimpleNamespace(kind="PLUGIN CREATOR_V3ONE", major=1, minor=0)

        @property
        def field_names(self):
            return [PluginField(n, None, getattr(trt.PluginFieldType, t)) for n, t in IAC_FIELDS.items()]

        def create_plugin(self, name, field_collection, phase):
            got = {f.name: f for f in field_collection}
            for fname, ftype in IAC_FIELDS.items():
                f = got.get(fname)
                if f is None or f.type != getattr(trt.PluginFieldType, ftype):
                    return None  # the plugin validates its fields (iacPlugin.cpp) and refuses
            values = {n: (int if IAC_FIELDS[n] == "INT32" else float)(np.asarray(got[n].data).reshape(-1)[0])
                      for n in IAC_FIELDS}
            if values["N"] < 1 or values["k"] not in (1, 3, 5, 7) or values["mode"] not in (0, 1) \
                    or values["layout"] not in (0, 1) or (values["mode"], values["layout"]) == (1, 1):
                return None  # problemError (iacMath.h): k odd 1..7; corrected mode needs the full layout
            return types.SimpleNamespace(name=name, fields=values)

    class PluginRegistry:
        def __init__(self):
            self.creators: list = []
            self.libraries: list[str] = []

        @property
        def all_creators(self):
            return list(self.creators)

        def get_creator(self, name, version, namespace=""):
            found = [c for c in self.creators if (c.name, c.plugin_version, c.plugin_namespace)
                     == (name, version, namespace)]
            if not found:
                error(None, f"getCreator: plugin creator {name} version {version} namespace '{namespace}' not found")
            return found[0] if found else None

        def register(self, creator, source: str) -> bool:
            key = (creator.name, creator.plugin_version, creator.plugin_namespace)
            if any((c.name, c.plugin_version, c.plugin_namespace) == key for c in self.creators):
                error(None, f"IPluginRegistry::registerCreator: Error Code 4: API Usage Error (Plugin "
                            f"Creator {key[0]} version {key[1]} namespace '{key[2]}' already registered) ({source})")
                return False
            self.creators.append(creator)
            return True

        def load_library(self, path):
            try:
                data = Path(path).read_bytes()
            except OSError as exc:
                error(None, f"Could not load library {path}: {exc}")
                return None
            tag = PLUGIN_TAG.search(data)
            if tag is None or int(tag.group(1)) != major:
                error(None, f"Could not load library {path}: undefined symbol getCreators / setLoggerFinder")
                return None
            if not self.register(IAcCreator(), str(path)):
                return None
            self.libraries.append(str(path))
            return types.SimpleNamespace(path=str(path))

        def deregister_library(self, handle):
            self.libraries.remove(handle.path)
            self.creators = [c for c in self.creators if not isinstance(c, IAcCreator)]

    registry = PluginRegistry()
    trt.get_plugin_registry = lambda: registry
    trt.init_libnvinfer_plugins = lambda logger, namespace: True
    trt._registry = registry

    # ---------------------------------------------------------------- network, parser, builder
    class ITensor:
        def __init__(self, name, shape, dtype):
            self.name, self.shape, self.dtype = name, tuple(shape), dtype
            self.is_shape_tensor = False
            self.location = trt.TensorLocation.DEVICE

    class INetworkDefinition:
        def __init__(self, flags: int):
            self.flags = flags
            strongly = major >= 11 or (flags >> int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)) & 1 \
                if hasattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED") else major >= 11
            self.strongly_typed = bool(strongly)
            self.model = None
            self.plugins: dict[str, object] = {}
            self.inputs: list[ITensor] = []
            self.outputs: list[ITensor] = []
            self.name = "network"

        def get_flag(self, flag):
            return bool((self.flags >> int(flag)) & 1) or (major >= 11 and flag.name == "STRONGLY_TYPED")

        @property
        def num_inputs(self):
            return len(self.inputs)

        @property
        def num_outputs(self):
            return len(self.outputs)

        def get_input(self, i):
            return self.inputs[i]

        def get_output(self, i):
            return self.outputs[i]

        @property
        def num_layers(self):
            return 0 if self.model is None else len(self.model.graph.node)

        def __iter__(self):
            return iter(())

        def __len__(self):
            return 0

    trt.INetworkDefinition = INetworkDefinition

    class ParserError:
        def __init__(self, desc, node=-1, node_name=""):
            self._desc, self._node, self._name = desc, node, node_name

        def desc(self):
            return self._desc

        def node(self):
            return self._node

        def node_name(self):
            return self._name

        def code(self):
            return 8  # ErrorCode::kUNSUPPORTED_NODE

        def __str__(self):
            return f"In node {self._node} with name: {self._name}: {self._desc}"

    class OnnxParser:
        def __init__(self, network, logger):
            self.network, self.logger, self.errors, self.flags = network, logger, [], 1

        @property
        def num_errors(self):
            return len(self.errors)

        def get_error(self, i):
            return self.errors[i]

        def clear_errors(self):
            self.errors = []

        def clear_flag(self, flag):
            self.flags &= ~(1 << int(flag))

        def set_flag(self, flag):
            self.flags |= 1 << int(flag)

        def parse_from_file(self, path):
            try:
                data = Path(path).read_bytes()
            except OSError:
                self.errors.append(ParserError(f"Failed to open file: {path}"))
                return False
            return self.parse(data, str(path))

        def parse(self, model, path=None):
            import onnx

            try:
                proto = onnx.load_model_from_string(bytes(model))
            except Exception as exc:
                self.errors.append(ParserError(f"Failed to parse ONNX model: {exc}"))
                return False
            return self._import(proto)

        def _uint8_edges_are_casts(self, proto) -> bool:
            """TensorRT takes UINT8 only as a network input or output, converted to or from FLOAT or
            HALF by a cast (NvInferRuntimeBase.h, DataType::kUINT8, 10.3 and 11.1): any other reader
            of a UINT8 input, or producer of a UINT8 output, fails."""
            from onnx import TensorProto, helper

            floats = {TensorProto.FLOAT, TensorProto.FLOAT16}
            nodes = list(proto.graph.node)
            cast_to = lambda n: helper.get_attribute_value(next(a for a in n.attribute if a.name == "to"))  # noqa: E731
            for value in proto.graph.input:
                if value.type.tensor_type.elem_type != TensorProto.UINT8:
                    continue
                for index, node in enumerate(nodes):
                    if value.name in node.input and not (node.op_type == "Cast" and cast_to(node) in floats):
                        self.errors.append(ParserError(
                            f"UINT8 network input {value.name} must be converted to FLOAT or HALF by a cast before "
                            f"other layers; {node.name} ({node.op_type}) reads it", index, node.name))
                        return False
            for value in proto.graph.output:
                if value.type.tensor_type.elem_type != TensorProto.UINT8:
                    continue
                for index, node in enumerate(nodes):
                    if value.name in node.output and node.op_type != "Cast":
                        self.errors.append(ParserError(
                            f"UINT8 network output {value.name} must come from a cast of a FLOAT or HALF tensor; "
                            f"{node.name} ({node.op_type}) writes it", index, node.name))
                        return False
            return True

        def _import(self, proto) -> bool:
            from onnx import helper

            net = self.network
            known = {"Conv", "ConvTranspose", "LeakyRelu", "Relu", "Add", "Sub", "Mul", "Div", "Clip", "Concat",
                     "Slice", "Pad", "Cast", "QuantizeLinear", "DequantizeLinear", "Identity", "Reshape",
                     "Transpose", "Split", "Resize", "Sigmoid", "Max", "Min", "Constant", "Shape", "Gather",
                     "Unsqueeze", "Squeeze", "DepthToSpace", "SpaceToDepth", "Round", "Floor", "ReduceMean",
                     "MatMul", "Gemm", "Sum", "Expand", "Where", "Equal", "Less", "Greater", "Not", "Range",
                     "ConstantOfShape", "Neg", "Abs", "Sqrt", "Pow", "Exp", "Log", "Tanh"}
            for index, node in enumerate(proto.graph.node):
                if node.op_type in known and node.domain in ("", "ai.onnx"):
                    continue
                attrs = {a.name: a for a in node.attribute}
                version = helper.get_attribute_value(attrs["plugin_version"]).decode() \
                    if "plugin_version" in attrs else "1"
                namespace = helper.get_attribute_value(attrs["plugin_namespace"]).decode() \
                    if "plugin_namespace" in attrs else ""
                found = [c for c in registry.creators
                         if (c.name, c.plugin_version, c.plugin_namespace) == (node.op_type, version, namespace)]
                if not found:
                    self.errors.append(ParserError(
                        f"Plugin not found, are the plugin name, version, and namespace correct? (op "
                        f"{node.op_type}, plugin_version {version!r}, plugin_namespace {namespace!r})",
                        index, node.name))
                    return False
                creator = found[0]
                declared = {f.name: f.type for f in creator.field_names}
                fields = []
                for name, attr in attrs.items():
                    if name not in declared:
                        continue  # onnx-tensorrt passes only the fields the creator declares
                    value = helper.get_attribute_value(attr)
                    kind = {attr.INT: trt.PluginFieldType.INT32, attr.FLOAT: trt.PluginFieldType.FLOAT32,
                            attr.STRING: trt.PluginFieldType.CHAR}.get(attr.type, trt.PluginFieldType.UNKNOWN)
                    fields.append(PluginField(name, np.array([value]), kind))
                plugin = creator.create_plugin(node.name, fields, trt.TensorRTPhase.BUILD)
                if plugin is None:
                    self.errors.append(ParserError(f"Could not create plugin {node.op_type} (createPlugin "
                                                   f"returned null)", index, node.name))
                    return False
                net.plugins[node.name] = plugin
            if not self._uint8_edges_are_casts(proto):
                return False
            inits = {t.name for t in proto.graph.initializer}
            for vi, target in ((proto.graph.input, net.inputs), (proto.graph.output, net.outputs)):
                for v in vi:
                    if v.name in inits:
                        continue
                    dims = [d.dim_value if d.HasField("dim_value") else -1 for d in v.type.tensor_type.shape.dim]
                    dtype = getattr(trt.DataType, _ONNX_TO_TRT.get(v.type.tensor_type.elem_type, "FLOAT"))
                    target.append(ITensor(v.name, dims, dtype))
            net.model = proto
            return True

    trt.OnnxParser = OnnxParser

    class IOptimizationProfile:
        def __init__(self):
            self.shapes: dict[str, tuple] = {}

        def set_shape(self, name, min, opt, max):  # noqa: A002
            if not all(a <= b <= c for a, b, c in zip(min, opt, max)) or not (len(min) == len(opt) == len(max)):
                error(None, f"IOptimizationProfile::setDimensions: {name}: need min <= opt <= max")
                return False
            self.shapes[name] = (tuple(min), tuple(opt), tuple(max))
            return True

        def get_shape(self, name):
            return [list(s) for s in self.shapes.get(name, ((), (), ()))]

        def __bool__(self):
            return True

    trt.IOptimizationProfile = IOptimizationProfile

    class ITimingCache:
        def __init__(self, data=b""):
            self.data = bytes(data)

        def serialize(self):
            return IHostMemory(b"STANDIN-TIMING-CACHE")

        def combine(self, other, ignore_mismatch):
            return True

    class IBuilderConfig:
        def __init__(self):
            self._flags = 1 << int(trt.BuilderFlag.TF32)  # TensorRT's default
            self.profiles: list[IOptimizationProfile] = []
            self.pools: dict = {}
            self.profiling_verbosity = trt.ProfilingVerbosity.LAYER_NAMES_ONLY
            self.builder_optimization_level = 3
            self.plugins_to_serialize: list[str] = []
            self.engine_capability = trt.EngineCapability.STANDARD
            self.hardware_compatibility_level = trt.HardwareCompatibilityLevel.NONE
            self.max_aux_streams = -1
            self.timing_cache = None
            self.algorithm_selector = None
            self.default_device_type = trt.DeviceType.GPU
            self.DLA_core = -1
            self.avg_timing_iterations = 1
            self.tactic_sources = 0

        @property
        def flags(self):
            return self._flags

        @flags.setter
        def flags(self, value):
            self._flags = int(value)

        def set_flag(self, flag):
            self._flags |= 1 << int(flag)

        def clear_flag(self, flag):
            self._flags &= ~(1 << int(flag))

        def get_flag(self, flag):
            return bool(self._flags >> int(flag) & 1)

        def add_optimization_profile(self, profile):
            self.profiles.append(profile)
            return len(self.profiles) - 1

        @property
        def num_optimization_profiles(self):
            return len(self.profiles)

        def set_memory_pool_limit(self, pool, size):
            self.pools[pool] = int(size)

        def get_memory_pool_limit(self, pool):
            return self.pools.get(pool, 1 << 40)

        def set_preview_feature(self, feature, enable):
            pass

        def get_preview_feature(self, feature):
            return False

        def set_tactic_sources(self, sources):
            self.tactic_sources = sources
            return True

        def get_tactic_sources(self):
            return self.tactic_sources

        def create_timing_cache(self, data):
            return ITimingCache(data)

        def set_timing_cache(self, cache, ignore_mismatch):
            self.timing_cache = cache
            return True

        def get_timing_cache(self):
            return self.timing_cache

        def set_calibration_profile(self, profile):
            return True

    trt.IBuilderConfig = IBuilderConfig

    class Builder:
        def __init__(self, logger):
            self.logger = logger
            self.platform_has_fast_fp16 = self.platform_has_fast_int8 = True
            self.max_DLA_batch_size, self.num_DLA_cores = 1, 0

        def create_network(self, flags=0):
            return INetworkDefinition(int(flags))

        def create_builder_config(self):
            return IBuilderConfig()

        def create_optimization_profile(self):
            return IOptimizationProfile()

        def is_network_supported(self, network, config):
            return network.model is not None

        def build_serialized_network(self, network, config):
            return _build(self.logger, network, config)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    trt.Builder = Builder
    trt.IBuilder = Builder

    def _build(logger, network, config):
        import onnx

        model = network.model
        if model is None:
            error(logger, "Network must have at least one output")
            return None
        if not network.strongly_typed:
            # what a weakly typed 10.x network is built as: FP32 unless precision flags say otherwise;
            # ifan-trt builds strongly typed only, so refuse rather than guess what TensorRT would pick
            error(logger, "IBuilder::buildSerializedNetwork: the stand-in builds strongly typed networks only "
                          "(create the network with NetworkDefinitionCreationFlag.STRONGLY_TYPED)")
            return None
        inputs = {t.name: t for t in network.inputs}
        dynamic = any(d < 0 for t in inputs.values() for d in t.shape)
        profiles = []
        if dynamic and not config.profiles:
            error(logger, "Network has dynamic or shape inputs, but no optimization profile has been defined.")
            return None
        for index, profile in enumerate(config.profiles):
            shapes = {}
            for name, tensor in inputs.items():
                if name not in profile.shapes:
                    if any(d < 0 for d in tensor.shape):
                        error(logger, f"{name}: dynamic input is missing dimensions in profile {index}.")
                        return None
                    shapes[name] = (tensor.shape,) * 3
                    continue
                lo, opt, hi = profile.shapes[name]
                if len(lo) != len(tensor.shape):
                    error(logger, f"IOptimizationProfile: {name}: profile {index} has {len(lo)} dims, the "
                                  f"network input has {len(tensor.shape)}")
                    return None
                for axis, fixed in enumerate(tensor.shape):
                    if fixed >= 0 and not lo[axis] == opt[axis] == hi[axis] == fixed:
                        error(logger, f"IBuilder::buildSerializedNetwork: Error Code 4: API Usage Error "
                                      f"({name}: for dimension number {axis} in profile {index} does not match "
                                      f"network definition (got min={lo[axis]}, opt={opt[axis]}, max={hi[axis]}), "
                                      f"expected min=opt=max={fixed}).)")
                        return None
                shapes[name] = profile.shapes[name]
            profiles.append({n: [list(s) for s in v] for n, v in shapes.items()})
        if not profiles:
            profiles = [{n: [list(t.shape)] * 3 for n, t in inputs.items()}]
        vc = config.get_flag(trt.BuilderFlag.VERSION_COMPATIBLE)
        embedded = [str(p) for p in config.plugins_to_serialize] if vc else []
        libraries = []
        for path in embedded:
            try:
                libraries.append(Path(path).read_bytes().hex())
            except OSError:
                error(logger, f"Could not read plugin library {path} to serialize")
                return None
        header = {"version": version, "profiles": profiles, "version_compatible": vc,
                  "embedded_plugins": libraries, "verbosity": int(config.profiling_verbosity),
                  "device": gpu.runtime_device(),
                  "io": [{"name": t.name, "input": True, "dtype": t.dtype.name, "shape": list(t.shape)}
                         for t in network.inputs] +
                        [{"name": t.name, "input": False, "dtype": t.dtype.name, "shape": list(t.shape)}
                         for t in network.outputs]}
        if config.timing_cache is not None:
            config.timing_cache.data = b"used"
        body = json.dumps(header).encode()
        return IHostMemory(MAGIC + len(body).to_bytes(8, "little") + body + model.SerializeToString())

    class IHostMemory(bytes):
        """Serialised bytes (a plan, a timing cache); usable in a with-block, as TensorRT's is."""

        @property
        def nbytes(self):
            return len(self)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    # ---------------------------------------------------------------- runtime
    loaded_plans = {"embedded": 0}

    class Runtime:
        def __init__(self, logger):
            self.logger = logger
            self.engine_host_code_allowed = False

        def deserialize_cuda_engine(self, data):
            data = bytes(data)
            if not data.startswith(MAGIC):
                error(self.logger, "IRuntime::deserializeCudaEngine: Error Code 1: Serialization (Serialization "
                                   "assertion magicTagRead == kMAGIC_TAG failed.Magic tag does not match)")
                return None
            size = int.from_bytes(data[len(MAGIC):len(MAGIC) + 8], "little")
            header = json.loads(data[len(MAGIC) + 8:len(MAGIC) + 8 + size])
            model_bytes = data[len(MAGIC) + 8 + size:]
            if header["version"] != version and not (header["version_compatible"]
                                                     and header["version"].split(".")[0] == str(major)):
                error(self.logger, f"IRuntime::deserializeCudaEngine: Error Code 1: Serialization (Serialization "
                                   f"assertion stdVersionRead == kSERIALIZATION_VERSION failed.Version tag does "
                                   f"not match. Note: Current Version: {version}, Serialized Engine Version: "
                                   f"{header['version']})")
                return None
            if header["version_compatible"] and not self.engine_host_code_allowed:
                error(self.logger, "IRuntime::deserializeCudaEngine: Error Code 1: Serialization (a "
                                   "version-compatible engine needs engine_host_code_allowed = True)")
                return None
            for lib in header["embedded_plugins"]:
                if not registry.register(IAcCreator(), "plugin serialized in the plan"):
                    return None
            import onnx

            model = onnx.load_model_from_string(model_bytes)
            plugins = [n for n in model.graph.node if n.op_type == "IFAN_IAC"]
            if plugins and not any(c.name == "IFAN_IAC" for c in registry.creators):
                error(self.logger, "IPluginRegistry::getCreator: Error Code 4: Cannot find plugin: IFAN_IAC, "
                                   "version: 1, namespace:.")
                return None
            return ICudaEngine(header, model, self.logger)

    trt.Runtime = Runtime

    class ICudaEngine:
        def __init__(self, header, model, logger):
            self.header, self.model, self.logger = header, model, logger
            self.device = gpu.runtime_device()
            self.io = header["io"]
            self._session = None
            self._lock = threading.Lock()

        @property
        def num_io_tensors(self):
            return len(self.io)

        @property
        def num_optimization_profiles(self):
            return len(self.header["profiles"])

        def _tensor(self, name):
            for t in self.io:
                if t["name"] == name:
                    return t
            return None

        def get_tensor_name(self, i):
            return self.io[i]["name"]

        def get_tensor_mode(self, name):
            t = self._tensor(name)
            return trt.TensorIOMode.NONE if t is None else (trt.TensorIOMode.INPUT if t["input"]
                                                            else trt.TensorIOMode.OUTPUT)

        def get_tensor_dtype(self, name):
            return getattr(trt.DataType, self._tensor(name)["dtype"])

        def get_tensor_shape(self, name):
            return tuple(self._tensor(name)["shape"])  # -1 for every dynamic dimension

        def get_tensor_profile_shape(self, name, index):
            t = self._tensor(name)
            if t is None or not t["input"] or not 0 <= index < self.num_optimization_profiles:
                error(self.logger, f"getProfileShape: {name} profile {index}: invalid")
                return []
            return [tuple(s) for s in self.header["profiles"][index][name]]

        if major < 11:
            @property
            def device_memory_size(self):  # deprecated in 10.1, gone in 11
                return self.device_memory_size_v2

            def get_device_memory_size_for_profile(self, profile_index):
                return self.get_device_memory_size_for_profile_v2(profile_index)

        # Activation memory: the stand-in's figure is ACTIVATION_FACTOR bytes per byte of the
        # profile's largest float input (a real engine's comes from its layers). 10.x keeps the
        # members deprecated in 10.1 (device_memory_size, get_device_memory_size_for_profile); 11.x
        # has only the _v2 ones.
        def get_device_memory_size_for_profile_v2(self, profile_index):
            if not 0 <= profile_index < self.num_optimization_profiles:
                error(self.logger, f"getDeviceMemorySizeForProfileV2: profile index {profile_index} out of range")
                return 0
            profile = self.header["profiles"][profile_index]
            largest = sum(int(np.prod(profile[t["name"]][2])) * 4 for t in self.io if t["input"])
            return (largest * ACTIVATION_FACTOR + 255) // 256 * 256

        @property
        def device_memory_size_v2(self):
            return max(self.get_device_memory_size_for_profile_v2(p) for p in range(self.num_optimization_profiles))

        def create_execution_context(self, strategy=None):
            strategy = trt.ExecutionContextAllocationStrategy.STATIC if strategy is None else strategy
            if not isinstance(strategy, trt.ExecutionContextAllocationStrategy):  # pybind11 refuses other types
                raise TypeError(f"create_execution_context(): incompatible function arguments: {strategy!r}")
            if gpu.runtime_device() != self.device:
                error(self.logger, "createExecutionContext: Error Code 1: Cuda Runtime (invalid resource handle)")
                return None
            return IExecutionContext(self, strategy)

        def create_engine_inspector(self):
            return IEngineInspector(self)

        def session(self):
            with self._lock:
                if self._session is None:
                    self._session = _session_for(self.model)
                return self._session

    class IEngineInspector:
        def __init__(self, engine):
            self.engine = engine

        def get_engine_information(self, fmt):
            engine = self.engine
            if engine.header["verbosity"] != int(trt.ProfilingVerbosity.DETAILED):
                return json.dumps({"Layers": [n.name for n in engine.model.graph.node]})
            types_ = _value_types(engine.model)
            dequantized = {n.output[0] for n in engine.model.graph.node if n.op_type == "DequantizeLinear"}
            layers = []
            for node in engine.model.graph.node:
                if node.op_type in ("QuantizeLinear", "DequantizeLinear", "Constant"):
                    continue  # fused into the layers that consume them

                def entry(name):
                    kind = "Int8" if name in dequantized else {1: "FP32", 10: "FP16", 6: "Int32", 7: "Int64",
                                                               3: "Int8"}.get(types_.get(name, 1), "FP32")
                    if major < 11:
                        return {"Name": name, "Format/Datatype": f"Row major linear {kind} format"}
                    return {"Name": name, "DataType": {"FP32": "Float", "FP16": "Half"}.get(kind, kind),
                            "Format": "Row major linear"}

                layers.append({"Name": node.name, "LayerType": _LAYER_TYPES.get(node.op_type, node.op_type),
                               "Inputs": [entry(i) for i in node.input if i and i in types_ or i in dequantized],
                               "Outputs": [entry(o) for o in node.output]})
            return json.dumps({"Layers": layers, "Bindings": [t["name"] for t in engine.io]})

    class IExecutionContext:
        def __init__(self, engine, strategy):
            self.engine, self.strategy = engine, strategy
            self.active_optimization_profile = 0
            self.shapes: dict[str, tuple] = {}
            self.addresses: dict[str, int] = {}
            self.profiler = None
            self._warm = set()  # input shapes already run once outside a capture
            self._memory: tuple[int, int] | None = None  # user-managed (pointer, size)
            self._book()

        def _book(self):
            """TensorRT's own activation memory: the largest over all profiles (STATIC), the
            active profile's (ON_PROFILE_CHANGE); none for USER_MANAGED."""
            kinds = trt.ExecutionContextAllocationStrategy
            if self.strategy == kinds.USER_MANAGED:
                return
            size = (self.engine.device_memory_size_v2 if self.strategy == kinds.STATIC
                    else self.engine.get_device_memory_size_for_profile_v2(self.active_optimization_profile))
            key = id(self)
            gpu.context_memory[key] = size
            if not hasattr(self, "_release"):  # freed with the context, as its destructor does
                self._release = weakref.finalize(self, gpu.context_memory.pop, key, None)

        def set_device_memory(self, memory, size):
            """setDeviceMemoryV2: the block a USER_MANAGED context runs in (checked at enqueue,
            where TensorRT uses it)."""
            if self.strategy != trt.ExecutionContextAllocationStrategy.USER_MANAGED:
                error(self.engine.logger, "IExecutionContext::setDeviceMemoryV2: Error Code 3: API Usage Error "
                                          "(the context was not created with ExecutionContextAllocationStrategy::"
                                          "kUSER_MANAGED)")
                return
            self._memory = (int(memory), int(size))

        if major < 11:
            @property
            def device_memory(self):
                raise AttributeError("unreadable attribute")  # write-only in the bindings

            @device_memory.setter
            def device_memory(self, memory):  # deprecated in 10.1: no size to check
                self.set_device_memory(memory, self.engine.device_memory_size_v2)

        def set_optimization_profile_async(self, index, stream):
            if not 0 <= index < self.engine.num_optimization_profiles:
                error(self.engine.logger, f"setOptimizationProfileAsync: profile index {index} out of range")
                return False
            gpu.stream(stream)
            self.active_optimization_profile = index
            self.shapes = {}
            if self.strategy == trt.ExecutionContextAllocationStrategy.ON_PROFILE_CHANGE:
                self._book()
            return True

        def set_input_shape(self, name, shape):
            t = self.engine._tensor(name)
            if t is None or not t["input"]:
                error(self.engine.logger, f"setInputShape: {name} is not an input tensor")
                return False
            lo, _, hi = self.engine.header["profiles"][self.active_optimization_profile][name]
            shape = tuple(int(d) for d in shape)
            if len(shape) != len(lo) or not all(a <= s <= b for a, s, b in zip(lo, shape, hi)):
                error(self.engine.logger, f"IExecutionContext::setInputShape: Error Code 3: API Usage Error "
                                          f"(Parameter check failed, condition: satisfyProfile. Set dimension "
                                          f"{list(shape)} for tensor {name} does not satisfy any optimization "
                                          f"profiles. Valid range for profile "
                                          f"{self.active_optimization_profile}: {lo}..{hi}.)")
                return False
            self.shapes[name] = shape
            return True

        def get_tensor_shape(self, name):
            t = self.engine._tensor(name)
            if t is None:
                return ()
            if t["input"]:
                return self.shapes.get(name, tuple(t["shape"]))
            return _output_shape(self.engine.model, name, self.shapes, [x["name"] for x in self.engine.io
                                                                         if x["input"]], t["shape"])

        def set_tensor_address(self, name, ptr):
            if self.engine._tensor(name) is None:
                error(self.engine.logger, f"setTensorAddress: {name} is not an input or output tensor")
                return False
            self.addresses[name] = int(ptr)
            return True

        def get_tensor_address(self, name):
            return self.addresses.get(name, 0)

        def execute_async_v3(self, stream_handle):
            engine, log = self.engine, self.engine.logger
            if gpu.runtime_device() != engine.device:
                error(log, "IExecutionContext::enqueueV3: Error Code 1: Cuda Runtime (invalid resource handle: "
                           f"the engine is on device {engine.device}, the current device is {gpu.runtime_device()})")
                return False
            inputs = [t for t in engine.io if t["input"]]
            missing = [t["name"] for t in inputs if t["name"] not in self.shapes]
            if missing:
                error(log, f"IExecutionContext::enqueueV3: Error Code 3: API Usage Error (input shapes not "
                           f"specified: {missing})")
                return False
            unset = [t["name"] for t in engine.io if t["name"] not in self.addresses]
            if unset:
                error(log, f"IExecutionContext::enqueueV3: Error Code 3: API Usage Error (Parameter check "
                           f"failed, condition: mContext.profileObliviousBindings.at(profileObliviousIndex) || "
                           f"getPtrOrNull(mOutputAllocators, profileObliviousIndex). Address is not set for "
                           f"tensor {unset[0]}. Call setInputTensorAddress or setTensorAddress before "
                           f"enqueue/execute.)")
                return False
            try:
                stream = gpu.stream(stream_handle)
            except fake_cuda.CudaFailure:
                error(log, "IExecutionContext::enqueueV3: Error Code 1: Cuda Runtime (invalid resource handle)")
                return False
            block = self._memory_check(log)
            if block is False:
                return False
            key = (self.active_optimization_profile, tuple(sorted(self.shapes.items())))
            if stream is not None and stream.capture is not None and key not in self._warm:
                # TensorRT sets up lazily on the first enqueue of a shape: that must not be captured
                stream.invalidated = True
                error(log, "IExecutionContext::enqueueV3: Error Code 1: Cuda Runtime (operation not permitted "
                           "when stream is capturing)")
                return False
            shapes = dict(self.shapes)
            out_shapes = {t["name"]: self.get_tensor_shape(t["name"]) for t in engine.io if not t["input"]}
            views = {}
            try:
                for t in engine.io:
                    shape = shapes[t["name"]] if t["input"] else out_shapes[t["name"]]
                    nbytes = int(np.prod(shape)) * np.dtype(_NP[t["dtype"]]).itemsize
                    views[t["name"]] = (gpu.device_bytes(self.addresses[t["name"]], nbytes, engine.device),
                                        shape, _NP[t["dtype"]])
            except fake_cuda.CudaFailure as exc:
                error(log, f"IExecutionContext::enqueueV3: Error Code 1: Cuda Runtime (an illegal memory access "
                           f"was encountered: {exc})")
                return False
            profiler = self.profiler

            def run():
                feeds = {n: buf.view(dt).reshape(shape).copy() for n, (buf, shape, dt) in views.items()
                         if engine._tensor(n)["input"]}
                start = time.perf_counter()
                results = engine.session().run(None, feeds)
                ms = (time.perf_counter() - start) * 1e3
                names = [o.name for o in engine.session().get_outputs()]
                for name, value in zip(names, results):
                    buf, shape, dt = views[name]
                    buf[...] = np.ascontiguousarray(value, dtype=dt).reshape(-1).view(np.uint8)
                if profiler is not None:  # the whole run, shared evenly: the stand-in has no per-layer times
                    layers = [n.name for n in engine.model.graph.node]
                    for layer in layers:
                        profiler.report_layer_time(layer, ms / len(layers))

            if block is not None and gpu.simulated is not None and (stream is None or stream.capture is None):
                # the block is in use until this execution ends: one that starts earlier by its
                # dependencies would share it with another context running in parallel
                if gpu.dependency_ready(stream) < gpu.block_busy_until.get(block, 0.0):
                    gpu.unordered_block_uses.append(f"context {id(self):#x} at {gpu.dependency_ready(stream):g} ms")
            try:
                gpu.enqueue(stream, run, "execute_async_v3")
            except fake_cuda.CudaFailure as exc:
                error(log, f"IExecutionContext::enqueueV3: Error Code 1: Cuda Runtime ({exc})")
                return False
            if block is not None and stream is not None and stream.capture is None:
                gpu.block_busy_until[block] = stream.ready
            if stream is None or stream.capture is None:
                self._warm.add(key)
            return True

        def _memory_check(self, log):
            """A USER_MANAGED context's block: None for the other strategies, False (after the
            error) when it is missing, too small for the active profile or not device memory."""
            if self.strategy != trt.ExecutionContextAllocationStrategy.USER_MANAGED:
                return None
            need = self.engine.get_device_memory_size_for_profile_v2(self.active_optimization_profile)
            if self._memory is None:
                if need == 0:
                    return None
                error(log, "IExecutionContext::enqueueV3: Error Code 3: API Usage Error (Parameter check failed, "
                           "condition: mContext.deviceMemory. Device memory is not set for a context created with "
                           "kUSER_MANAGED; call setDeviceMemoryV2 before enqueue)")
                return False
            ptr, size = self._memory
            if size < need:
                error(log, f"IExecutionContext::enqueueV3: Error Code 3: API Usage Error (the device memory set is "
                           f"{size} bytes; the active profile needs {need})")
                return False
            try:
                gpu.device_bytes(ptr, need, self.engine.device)
            except fake_cuda.CudaFailure as exc:
                error(log, f"IExecutionContext::enqueueV3: Error Code 1: Cuda Runtime (an illegal memory access "
                           f"was encountered: {exc})")
                return False
            return ptr

    class IProfiler:
        def __init__(self):
            pass

        def report_layer_time(self, layer_name, ms):
            pass

    trt.IProfiler = IProfiler
    trt.ICudaEngine, trt.IExecutionContext, trt.IEngineInspector = ICudaEngine, IExecutionContext, IEngineInspector
    trt.IHostMemory = IHostMemory
    trt._gpu = gpu
    return trt


def _value_types(model) -> dict[str, int]:
    from onnx import shape_inference

    types_ = {}
    for vi in list(model.graph.input) + list(model.graph.output) + list(model.graph.value_info):
        types_[vi.name] = vi.type.tensor_type.elem_type
    try:
        inferred = shape_inference.infer_shapes(_plugin_as_identity(model))
        for vi in inferred.graph.value_info:
            types_.setdefault(vi.name, vi.type.tensor_type.elem_type)
    except Exception:
        pass
    for init in model.graph.initializer:
        types_.setdefault(init.name, init.data_type)
    return types_


def _plugin_as_identity(model):
    """A copy whose IFAN_IAC nodes are Identity of their features (the plugin's getOutputShapes and
    getOutputDataTypes: the output is shaped and typed as input 0), for ONNX shape inference."""
    import onnx

    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    for node in copy.graph.node:
        if node.op_type == "IFAN_IAC":
            node.op_type, node.domain = "Identity", ""
            del node.input[1:]
            del node.attribute[:]
    return copy


_shape_cache: dict = {}


def _output_shape(model, name, shapes, input_names, declared) -> tuple:
    """The output's shape for the input shapes set (-1 where an input shape is not set yet)."""
    if any(n not in shapes for n in input_names):
        return tuple(declared)
    key = (id(model), name, tuple(sorted(shapes.items())))
    if key not in _shape_cache:
        from onnx import shape_inference

        fixed = _plugin_as_identity(model)
        for vi in fixed.graph.input:
            if vi.name in shapes:
                dims = vi.type.tensor_type.shape.dim
                for d, v in zip(dims, shapes[vi.name]):
                    d.ClearField("dim_param")
                    d.dim_value = int(v)
        del fixed.graph.value_info[:]
        for vi in fixed.graph.output:
            vi.type.tensor_type.ClearField("shape")
        inferred = shape_inference.infer_shapes(fixed, data_prop=True)
        out = [o for o in list(inferred.graph.output) + list(inferred.graph.value_info) if o.name == name]
        dims = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in out[0].type.tensor_type.shape.dim) \
            if out and out[0].type.tensor_type.HasField("shape") else ()
        if not dims or any(d < 0 for d in dims):  # shapes computed from data (a uint8 model's pad and
            dims = _run_for_shape(fixed, name, shapes)  # crop): TensorRT computes them; so do we, by running
        _shape_cache[key] = dims if dims else tuple(declared)
    return _shape_cache[key]


def _run_for_shape(model, name, shapes) -> tuple:
    """The output's shape from one ONNX Runtime run on zeros (the plugin as identity keeps shapes)."""
    import onnxruntime as ort
    from onnx import helper

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {i.name: np.zeros(shapes[i.name], helper.tensor_dtype_to_np_dtype(
        next(v for v in model.graph.input if v.name == i.name).type.tensor_type.elem_type))
        for i in session.get_inputs()}
    return tuple(session.run([name], feeds)[0].shape)


# ---------------------------------------------------------------- installing

POLYGRAPHY_MODULES = ("polygraphy.backend.trt.loader", "polygraphy.backend.trt.config", "polygraphy.backend.trt.util",
                      "polygraphy.backend.trt.profile", "polygraphy.backend.trt.runner",
                      "polygraphy.backend.trt.calibrator", "polygraphy.backend.trt.algorithm_selector",
                      "polygraphy.backend.trt.file_reader")


def install(monkeypatch, version: str = "10.3.0.26", gpu: fake_cuda.FakeGpu | None = None,
            bindings=("cuda-python", "pycuda"), strongly_typed_flag: bool = True, **cuda_options) -> types.ModuleType:
    """The TensorRT and CUDA stand-ins in sys.modules for one test; returns the tensorrt module
    (its GPU as trt._gpu, its plugin registry as trt._registry)."""
    import importlib

    from ifan_trt.runtime.tensorrt import plugin_library

    gpu = fake_cuda.install(monkeypatch, gpu, bindings, **cuda_options)
    trt = make_tensorrt(version, gpu, strongly_typed_flag)
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    monkeypatch.setattr(plugin_library, "_loaded", {})  # a fresh process as far as the registry goes
    for name in POLYGRAPHY_MODULES:  # Polygraphy imports tensorrt lazily and keeps the module it found
        lazy = getattr(importlib.import_module(name), "trt", None)
        if lazy is not None and "module" in vars(lazy):
            monkeypatch.setitem(vars(lazy), "module", trt)
    util = importlib.import_module("polygraphy.backend.trt.util")
    monkeypatch.setattr(util, "TRT_LOGGER", None)  # its logger subclasses the tensorrt module's ILogger
    return trt


def write_plugin_library(folder: Path, trt_major: int = 10) -> Path:
    """A file the plugin loader accepts as libifan_iac_plugin_trt<major>.so (it carries the build tag)."""
    path = Path(folder) / f"libifan_iac_plugin_trt{trt_major}.so"
    path.write_bytes(library_bytes(trt_major, "10.3.0" if trt_major == 10 else "11.1.0"))
    return path


def builder_tensorrt(version: str = "10.3.0.26", strongly_typed: bool = True) -> types.ModuleType:
    """The module as the build's version probe sees it (no CUDA stand-in installed)."""
    return make_tensorrt(version, strongly_typed_flag=strongly_typed)


def build(onnx_path: Path, output: Path, *options: str) -> Path:
    """`ifan build --onnx onnx_path -o output OPTIONS` with the stand-ins installed (the plugin
    library from IFAN_TRT_PLUGIN); the engine's path."""
    from ifan_trt.cli import build_parser
    from ifan_trt.commands import build as build_cmd

    args = build_parser().parse_args(["build", "--onnx", str(onnx_path), "-o", str(output), *options])
    if build_cmd.run(args) != 0:
        raise AssertionError(f"ifan build {' '.join(options)} failed")
    return output


def child_module_path(folder: Path, version: str = "10.3.0.26") -> str:
    """A PYTHONPATH under which a child Python imports this stand-in as `tensorrt` (a fresh process:
    nothing registered), for code that inspects plans in a child process."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tensorrt.py").write_text(
        "import sys\nfrom tests.helpers.fake_tensorrt import make_tensorrt\n"
        f"sys.modules[__name__] = make_tensorrt({version!r})\n")
    repo = Path(__file__).resolve().parents[2]
    return f"{folder}:{repo}"
