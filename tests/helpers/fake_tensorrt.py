"""The one stand-in for TensorRT (and for CUDA) in the tests that run without a GPU: module
objects with the parts of the TensorRT 10/11 Python API that the build and the executor use,
following its documented names and return values, computing on host memory."""

from __future__ import annotations

import types

import numpy as np

from ifan_trt.runtime.tensorrt import cuda as cuda_memory


class FakeCuda(cuda_memory.Cuda):
    name, supports_graphs = "fake", True

    def __init__(self):
        self.mem, self.allocs, self.capturing, self.launches, self.log = {}, 0, None, 0, []

    @property
    def stream_handle(self):
        return 7

    def device_alloc(self, nbytes):
        self.allocs += 1
        ptr = 0x1000 * (len(self.mem) + 1)
        self.mem[ptr] = np.zeros(nbytes, np.uint8)
        return ptr

    def host_alloc(self, nbytes):
        return np.zeros(nbytes, np.uint8)

    def copy_to_device(self, dst, src):
        self.mem[dst][:src.nbytes] = src

    def copy_to_host(self, dst, src):
        dst[:] = self.mem[src][:dst.nbytes]

    def synchronize(self):
        pass

    def event(self):
        return object()

    def record(self, event):
        pass

    def elapsed_ms(self, start, end):
        return 1.0

    def begin_capture(self):
        self.capturing = []

    def end_capture(self):
        graph, self.capturing = self.capturing, None
        return graph

    def launch(self, graph):
        self.launches += 1
        for op in graph:
            op()

    def close(self):
        self.log.append("close")


def runtime_tensorrt(cuda: FakeCuda, shapes, profiles, calls):
    """A module with the parts of the TensorRT 10/11 Python API the executor uses."""
    trt = types.ModuleType("tensorrt")
    trt.__version__ = "10.3.0"
    trt.Logger = type("Logger", (), {"WARNING": 2, "__init__": lambda self, level: None})
    trt.TensorIOMode = types.SimpleNamespace(INPUT="in", OUTPUT="out")
    trt.nptype = lambda dtype: np.float32
    trt.IProfiler = type("IProfiler", (), {"__init__": lambda self: None})

    class Context:
        def __init__(self):
            self.addresses, self.profile, self.input_shape, self.profiler = {}, 0, None, None

        def set_tensor_address(self, name, ptr):
            calls.append(("set_tensor_address", name))
            self.addresses[name] = ptr
            return True

        def set_optimization_profile_async(self, index, stream):
            calls.append(("set_optimization_profile_async", index, stream))
            self.profile = index
            return True

        def set_input_shape(self, name, shape):
            calls.append(("set_input_shape", name, tuple(shape)))
            lo, _, hi = profiles[self.profile]
            if not all(a <= s <= b for a, s, b in zip(lo, shape, hi)):
                return False
            self.input_shape = tuple(shape)
            return True

        def get_tensor_shape(self, name):
            return self.input_shape

        def execute_async_v3(self, stream_handle):
            calls.append(("execute_async_v3", stream_handle))
            n = int(np.prod(self.input_shape)) * 4

            def compute():  # the "network": 1 - x
                x = cuda.mem[self.addresses["input"]][:n].view(np.float32)
                cuda.mem[self.addresses["output"]][:n] = (1 - x).view(np.uint8)

            if cuda.capturing is not None:
                cuda.capturing.append(compute)
            else:
                compute()
            return True

    class Engine:
        num_io_tensors = 2
        num_optimization_profiles = len(profiles)

        def get_tensor_name(self, i):
            return ["input", "output"][i]

        def get_tensor_mode(self, name):
            return "in" if name == "input" else "out"

        def get_tensor_dtype(self, name):
            return "float"

        def get_tensor_shape(self, name):
            return shapes

        def get_tensor_profile_shape(self, name, index):
            return profiles[index]

        def create_execution_context(self):
            return Context()

    class Runtime:
        def __init__(self, logger):
            pass

        def deserialize_cuda_engine(self, data):
            return None if data == b"stale" else Engine()

    trt.Runtime = Runtime
    return trt


def builder_tensorrt(version: str = "10.3.0.26", strongly_typed: bool = True):
    """What the build probes before building: the version and the network creation flags."""
    trt = types.ModuleType("tensorrt")
    trt.__version__ = version
    flags = types.SimpleNamespace(EXPLICIT_BATCH=0)
    if strongly_typed:
        flags.STRONGLY_TYPED = 5
    trt.NetworkDefinitionCreationFlag = flags
    return trt


# ---------------------------------------------------------------- the CUDA bindings
# cuda-python returns (status, *values) and reports cudaErrorInsufficientDriver (35) when its
# runtime is newer than the driver; pycuda raises pycuda.driver.Error.

SUCCESS, INSUFFICIENT, NO_DEVICE = 0, 35, 100
NAMES = {SUCCESS: "cudaSuccess", INSUFFICIENT: "cudaErrorInsufficientDriver", NO_DEVICE: "cudaErrorNoDevice"}


def fake_cudart(status=SUCCESS, count=1, runtime=13000, driver=13000):
    """cuda.bindings.runtime whose every call returns `status` (the driver/runtime version queries
    always answer, as the real ones do)."""
    rt = types.ModuleType("cuda.bindings.runtime")
    rt.cudaError_t = types.SimpleNamespace(cudaSuccess=SUCCESS, cudaErrorInsufficientDriver=INSUFFICIENT,
                                           cudaErrorNoDevice=NO_DEVICE)
    rt.cudaGetErrorName = lambda s: (SUCCESS, NAMES[s].encode())
    rt.cudaRuntimeGetVersion = lambda: (SUCCESS, runtime)
    rt.cudaDriverGetVersion = lambda: (SUCCESS, driver)
    rt.cudaGetDeviceCount = lambda: (status, count if status == SUCCESS else 0)
    rt.cudaSetDevice = lambda device: (status,)
    rt.cudaStreamCreate = lambda: (status, 11)
    prop = types.SimpleNamespace(name=b"NVIDIA Fake GPU\x00", major=8, minor=7)
    rt.cudaGetDeviceProperties = lambda device: (status, prop)
    return rt


def fake_pycuda(count=1, init_error=None):
    drv = types.ModuleType("pycuda.driver")
    drv.Error = type("Error", (Exception,), {})

    def init():
        if init_error:
            raise drv.Error(init_error)

    class Device:
        def __init__(self, index):
            self.index = index

        count = staticmethod(lambda: globals_count[0])
        name = lambda self: "Orin (fake)"  # noqa: E731
        compute_capability = lambda self: (8, 7)  # noqa: E731
        retain_primary_context = lambda self: types.SimpleNamespace(push=lambda: None, pop=lambda: None)  # noqa: E731

    globals_count = [count]
    drv.init, drv.Device = init, Device
    drv.Stream = lambda: types.SimpleNamespace(handle=12, synchronize=lambda: None)
    return drv
