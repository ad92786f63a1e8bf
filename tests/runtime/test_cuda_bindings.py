"""Which CUDA binding runs, and what the user is told when one cannot; then the product's two
bindings (CudaPython, PyCuda) driven against the CUDA stand-in (tests/helpers/fake_cuda.py):
memory kinds, copies, stream capture, threads and leaks (no GPU needed)."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

from ifan_trt.errors import IfanError
from ifan_trt.runtime.executors import backends
from ifan_trt.runtime.tensorrt import cuda as cuda_memory
from tests.helpers import fake_cuda
from tests.helpers.fake_cuda import INSUFFICIENT
from tests.helpers.fake_tensorrt import make_tensorrt


@pytest.fixture
def bindings(monkeypatch):
    """install(cudart=options|None, pycuda=options|None): None means that binding is not installed.
    cudart options: status (what every call returns), runtime/driver versions, devices;
    pycuda options: init_error. Both share one stand-in GPU."""
    def install(cudart=None, pycuda=None, devices=1):
        chosen = [name for name, opts in (("cuda-python", cudart), ("pycuda", pycuda)) if opts is not None]
        opts = dict(cudart or {})
        opts.update(pycuda or {})
        return fake_cuda.install(monkeypatch, fake_cuda.FakeGpu(devices=opts.pop("devices", devices)), chosen,
                                 **opts)

    monkeypatch.setattr(cuda_memory, "binding_version", lambda name: {"cuda-python": "cuda-python 13.0.1"}.get(name, name))
    return install


def fake_cudart(**options):
    return options


def fake_pycuda(**options):
    return options


CU13_ON_JETPACK6 = dict(status=INSUFFICIENT, runtime=13000, driver=12060)
DRIVER_LINE = ("cuda-python 13.0.1 needs the CUDA 13.0 runtime but the NVIDIA driver supports CUDA 12.6 "
               "(insufficient driver); install the CUDA 12 binding: pip install 'ifan-trt[trt-cu12]'")


def test_insufficient_driver_message_names_both_versions_and_the_fix():
    line = cuda_memory.insufficient_driver_message("cuda-python 13.0.1", 13000, 12060)
    assert line.startswith(DRIVER_LINE) and "580 or newer" in line and "\n" not in line
    old = cuda_memory.insufficient_driver_message("cuda-python 12.9.0", 12090, 11080)
    assert "supports CUDA 11.8" in old and "update the NVIDIA driver" in old and "trt-cu12" not in old


def test_auto_prefers_cuda_python(bindings, capsys):
    gpu = bindings(cudart=fake_cudart(), pycuda=fake_pycuda())
    cuda = cuda_memory.open_cuda("auto")
    assert cuda.name == "cuda-python" and cuda.stream_handle in gpu.streams
    assert capsys.readouterr().err == ""
    cuda.close()
    assert gpu.live() == {}


def test_auto_falls_back_to_pycuda_and_says_why_in_one_line(bindings, caplog):
    gpu = bindings(cudart=fake_cudart(**CU13_ON_JETPACK6), pycuda=fake_pycuda())
    cuda = cuda_memory.open_cuda("auto")
    assert cuda.name == "pycuda" and cuda.stream_handle in gpu.streams
    err = caplog.messages  # a warning of the ifan logger: `ifan CMD: warning: ...` on a terminal
    assert len(err) == 1 and err[0].startswith("CUDA through pycuda (" + DRIVER_LINE)


def test_no_binding_opens_the_gpu_is_one_error_naming_the_fix(bindings):
    bindings(cudart=fake_cudart(**CU13_ON_JETPACK6))
    with pytest.raises(IfanError, match=r"^GPU 0: no CUDA binding could open it \(cuda-python 13\.0\.1 "
                                        r"needs the CUDA 13\.0 runtime.*trt-cu12"):
        cuda_memory.open_cuda("auto")
    with pytest.raises(IfanError, match="insufficient driver"):  # asked for by name: the same reason
        cuda_memory.open_cuda("cuda-python")
    bindings()
    with pytest.raises(IfanError, match=r"needs cuda-python or pycuda: pip install 'ifan-trt\[trt-cu12\]'"):
        cuda_memory.open_cuda("auto")


def test_gpu_count_uses_the_binding_that_works(bindings):
    bindings(cudart=fake_cudart(**CU13_ON_JETPACK6), pycuda=fake_pycuda())
    probe = cuda_memory.probe_gpus()
    assert (probe.count, probe.binding) == (1, "pycuda") and probe.problems == (probe.problem,)
    assert probe.problem.startswith(DRIVER_LINE)
    assert cuda_memory.gpu_count() == 1
    bindings(cudart=fake_cudart(), pycuda=fake_pycuda(), devices=2)
    assert cuda_memory.probe_gpus() == cuda_memory.GpuProbe(2, "cuda-python", ())


def test_no_gpu_is_not_a_binding_problem(bindings):
    bindings(cudart=fake_cudart(), devices=0)
    assert cuda_memory.probe_gpus() == cuda_memory.GpuProbe(0, "cuda-python", ())
    # no NVIDIA driver at all: the runtime says "insufficient driver" with driver version 0
    bindings(cudart=fake_cudart(status=INSUFFICIENT, driver=0))
    assert cuda_memory.probe_gpus() == cuda_memory.GpuProbe(0, "cuda-python", ())
    bindings(pycuda=fake_pycuda(init_error="cuInit failed: no CUDA-capable device is detected"))
    assert cuda_memory.probe_gpus() == cuda_memory.GpuProbe(0, "pycuda", ())


def test_no_driver_at_all_is_named_as_such_not_as_an_old_driver(bindings):
    """cudaDriverGetVersion reports 0 when no NVIDIA driver is loaded (a container started without
    the GPU, a machine without the driver): opening the GPU says that, not "update to 580"."""
    bindings(cudart=fake_cudart(status=INSUFFICIENT, runtime=13000, driver=0))
    with pytest.raises(IfanError) as caught:
        cuda_memory.open_cuda("cuda-python")
    line = str(caught.value)
    assert "no NVIDIA driver is loaded" in line and "--gpus" in line, line
    assert "580" not in line and "trt-cu12" not in line and "\n" not in line


def test_pycuda_insufficient_driver_and_other_failures_are_reported(bindings):
    bindings(pycuda=fake_pycuda(init_error="cuInit failed: CUDA_ERROR_INSUFFICIENT_DRIVER"))
    probe = cuda_memory.probe_gpus()
    assert probe.count == 0 and probe.binding is None
    assert probe.problem.startswith("pycuda needs a newer CUDA runtime but the NVIDIA driver is older (insufficient")
    bindings(pycuda=fake_pycuda(init_error="cuInit failed: unknown error"))
    assert cuda_memory.probe_gpus().problem == "pycuda: cuInit failed: unknown error"


def test_backend_auto_names_the_binding_problem_before_falling_to_the_cpu(bindings, tmp_path, caplog, monkeypatch):
    from ifan_trt.runtime.model_files.sidecar import Sidecar, sidecar_bytes, sidecar_path

    engine, onnx = tmp_path / "m.engine", tmp_path / "m.onnx"
    engine.write_bytes(b"plan")
    onnx.write_bytes(b"onnx")
    sidecar_path(engine).write_bytes(sidecar_bytes(Sidecar(
        engine=engine, precision="fp32", inputs=["input"], metadata={}, tensorrt_version="10.3.0", onnx_path=onnx,
        profiles=[{"input": {"min": [1, 3, 8, 8], "opt": [1, 3, 8, 8], "max": [1, 3, 8, 8]}}]).as_dict()))
    monkeypatch.setitem(sys.modules, "tensorrt", make_tensorrt())  # installed: the binding is what fails
    bindings(cudart=fake_cudart(**CU13_ON_JETPACK6))
    assert backends.resolve_backend("auto", None, None, str(engine)) == ("onnxruntime", str(onnx))
    err = caplog.messages
    assert len(err) == 1 and err[0].startswith(
        f"{engine} cannot run here: the CUDA binding cannot reach the driver ({DRIVER_LINE}")
    assert err[0].endswith(f"; --backend auto runs the ONNX model it was built from, {onnx}, "
                           "on ONNX Runtime instead")
    onnx.unlink()
    with pytest.raises(IfanError, match=r"cannot run here: the CUDA binding cannot reach the driver \(cuda-python 13\.0\.1 needs"):
        backends.resolve_backend("auto", None, None, str(engine))
    bindings(cudart=fake_cudart(**CU13_ON_JETPACK6), pycuda=fake_pycuda())
    assert backends.resolve_backend("auto", None, None, str(engine)) == ("tensorrt", str(engine))


def test_gpu_info_names_the_binding_or_the_reason(bindings):
    bindings(cudart=fake_cudart())
    assert cuda_memory.gpu_info() == {"name": "NVIDIA Stand-in GPU", "compute_capability": "8.7",
                                      "cuda_binding": "cuda-python 13.0.1"}
    bindings(cudart=fake_cudart(**CU13_ON_JETPACK6), pycuda=fake_pycuda())
    assert cuda_memory.gpu_info() == {"name": "NVIDIA Stand-in GPU", "compute_capability": "8.7",
                                      "cuda_binding": "pycuda"}
    bindings(cudart=fake_cudart(**CU13_ON_JETPACK6))
    info = cuda_memory.gpu_info()
    assert (info["name"], info["compute_capability"], info["cuda_binding"]) == ("unknown", "unknown", None)
    assert info["reason"].startswith(DRIVER_LINE)
    bindings()
    assert cuda_memory.gpu_info()["reason"] == "no CUDA binding installed"


# ---------------------------------------------------------------- the product's bindings on the stand-in

@pytest.mark.parametrize("binding", ["cuda-python", "pycuda"])
def test_copies_round_trip_and_a_copy_of_the_wrong_kind_fails(bindings, binding):
    gpu = bindings(cudart={}, pycuda={})
    cuda = cuda_memory.open_cuda(binding)
    with cuda.current():
        device, host_in, host_out = cuda.device_alloc(64), cuda.host_alloc(64), cuda.host_alloc(64)
        host_in[:] = np.arange(64, dtype=np.uint8)
        cuda.copy_to_device(device, host_in)
        cuda.copy_to_host(host_out, device)
        cuda.synchronize()
        assert np.array_equal(host_out, host_in) and gpu.pageable_copies == 0
        assert gpu.find(device, 64).kind == "device" and gpu.find(host_in.ctypes.data, 64).kind == "host"
        wrong = _copy_error(binding)
        with pytest.raises(wrong, match="cudaErrorInvalidValue|invalid argument"):  # a host pointer where device memory belongs
            cuda.copy_to_device(host_out.ctypes.data, host_in)
        with pytest.raises(wrong, match="cudaErrorInvalidValue|invalid argument"):  # past the end of the device allocation
            cuda.copy_to_host(cuda.host_alloc(128), device)
    cuda.close()
    assert gpu.live() == {}


def _copy_error(binding):
    import sys

    return cuda_memory.CudaError if binding == "cuda-python" else sys.modules["pycuda.driver"].Error


def test_stream_capture_refuses_synchronising_calls_and_graphs_replay(bindings):
    gpu = bindings(cudart={})
    cuda = cuda_memory.open_cuda("cuda-python")
    with cuda.current():
        device, host = cuda.device_alloc(16), cuda.host_alloc(16)
        cuda.begin_capture()
        with pytest.raises(cuda_memory.CudaError, match="cudaStreamSynchronize failed: "
                                                        "cudaErrorStreamCaptureUnsupported"):
            cuda.synchronize()
        with pytest.raises(cuda_memory.CudaError, match="cudaErrorStreamCaptureInvalidated"):
            cuda.end_capture()  # the refused call invalidated the capture
        cuda.begin_capture()
        cuda.copy_to_device(device, host)  # recorded, not run
        host[:] = 7
        graph = cuda.end_capture()
        assert gpu.live()["graph"] == gpu.live()["graph_exec"] == 1
        cuda.launch(graph)
        readback = cuda.host_alloc(16)
        cuda.copy_to_host(readback, device)
        cuda.synchronize()
        assert (readback == 7).all()  # the replay copied the data as it was at launch
    cuda.close()
    assert gpu.live() == {}


def test_pycuda_needs_its_context_in_the_calling_thread(bindings):
    gpu = bindings(pycuda={})
    cuda = cuda_memory.open_cuda("pycuda")
    assert gpu.driver_context() is None  # opening left this thread's context stack as it was
    import sys

    with pytest.raises(sys.modules["pycuda.driver"].LogicError, match="invalid device context"):
        cuda.device_alloc(16)
    failures = []

    def worker():
        try:
            with cuda.current():
                cuda.device_alloc(16)
        except Exception as exc:  # noqa: BLE001
            failures.append(exc)

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert failures == [] and gpu.live()["device"] == 1
    cuda.close()
    assert gpu.live() == {}


def test_the_gpu_tests_hold_the_context_for_pycuda_alone(bindings, monkeypatch):
    """tests/runtime/test_tensorrt_cuda_gpu.py on a machine with pycuda only: pycuda's context is
    current only inside Cuda.current(), so the GPU tests must run in it (here on the stand-in)."""
    import importlib
    import sys

    bindings(pycuda=fake_pycuda())
    monkeypatch.delitem(sys.modules, "tests.runtime.test_tensorrt_cuda_gpu", raising=False)
    gpu_tests = importlib.import_module("tests.runtime.test_tensorrt_cuda_gpu")
    monkeypatch.delitem(sys.modules, "tests.runtime.test_tensorrt_cuda_gpu")
    with gpu_tests.opened("pycuda") as cuda:
        gpu_tests.test_copies_round_trip(cuda)


def test_the_current_device_is_per_thread_and_old_cuda_python_imports_work(bindings, monkeypatch):
    import sys

    gpu = bindings(cudart={}, devices=2)
    rt = sys.modules["cuda.bindings.runtime"]
    assert rt.cudaSetDevice(1) == (rt.cudaError_t.cudaSuccess,) and rt.cudaGetDevice()[1] == 1
    seen = []
    t = threading.Thread(target=lambda: seen.append(rt.cudaGetDevice()[1]))
    t.start()
    t.join()
    assert seen == [0]  # a new thread starts on device 0, whatever another thread chose
    assert rt.cudaSetDevice(2)[0] == rt.cudaError_t.cudaErrorInvalidDevice
    rt.cudaSetDevice(0)
    fake_cuda.install(monkeypatch, gpu, ("cuda-python",), old_layout=True)  # `from cuda import cudart`
    cuda = cuda_memory.open_cuda("cuda-python", device=1)
    with cuda.current():
        assert gpu.find(cuda.device_alloc(8), 8).device == 1
    cuda.close()
    assert gpu.live() == {}
