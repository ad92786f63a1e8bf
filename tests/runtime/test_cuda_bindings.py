"""Which CUDA binding runs, and what the user is told when one cannot: stand-ins for cuda-python's
runtime module and for pycuda.driver (tests/helpers/fake_tensorrt.py) are put in sys.modules (no
GPU needed)."""

from __future__ import annotations

import sys
import types

import pytest

from ifan_trt.errors import IfanError
from ifan_trt.runtime import backends
from ifan_trt.runtime.tensorrt import cuda as cuda_memory
from tests.helpers.fake_tensorrt import INSUFFICIENT, NO_DEVICE, fake_cudart, fake_pycuda

@pytest.fixture
def bindings(monkeypatch):
    """install(cudart=module|None, pycuda=module|None): None means that binding is not installed."""
    def install(cudart=None, pycuda=None):
        cuda_pkg, bindings_pkg = types.ModuleType("cuda"), types.ModuleType("cuda.bindings")
        if cudart is not None:
            bindings_pkg.runtime = cudart
        monkeypatch.setitem(sys.modules, "cuda", cuda_pkg if cudart is not None else None)
        monkeypatch.setitem(sys.modules, "cuda.bindings", bindings_pkg if cudart is not None else None)
        monkeypatch.setitem(sys.modules, "cuda.bindings.runtime", cudart)
        pkg = types.ModuleType("pycuda")
        if pycuda is not None:
            pkg.driver = pycuda
        monkeypatch.setitem(sys.modules, "pycuda", pkg if pycuda is not None else None)
        monkeypatch.setitem(sys.modules, "pycuda.driver", pycuda)

    monkeypatch.setattr(cuda_memory, "binding_version", lambda name: {"cuda-python": "cuda-python 13.0.1"}.get(name, name))
    return install


CU13_ON_JETPACK6 = dict(status=INSUFFICIENT, runtime=13000, driver=12060)
DRIVER_LINE = ("cuda-python 13.0.1 needs the CUDA 13.0 runtime but the NVIDIA driver supports CUDA 12.6 "
               "(insufficient driver); install the CUDA 12 binding: pip install 'ifan-trt[trt-cu12]'")


def test_insufficient_driver_message_names_both_versions_and_the_fix():
    line = cuda_memory.insufficient_driver_message("cuda-python 13.0.1", 13000, 12060)
    assert line.startswith(DRIVER_LINE) and "580 or newer" in line and "\n" not in line
    old = cuda_memory.insufficient_driver_message("cuda-python 12.9.0", 12090, 11080)
    assert "supports CUDA 11.8" in old and "update the NVIDIA driver" in old and "trt-cu12" not in old


def test_auto_prefers_cuda_python(bindings, capsys):
    bindings(cudart=fake_cudart(), pycuda=fake_pycuda())
    cuda = cuda_memory.open_cuda("auto")
    assert cuda.name == "cuda-python" and cuda.stream_handle == 11
    assert capsys.readouterr().err == ""


def test_auto_falls_back_to_pycuda_and_says_why_in_one_line(bindings, caplog):
    bindings(cudart=fake_cudart(**CU13_ON_JETPACK6), pycuda=fake_pycuda())
    cuda = cuda_memory.open_cuda("auto")
    assert cuda.name == "pycuda" and cuda.stream_handle == 12
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
    bindings(cudart=fake_cudart(**CU13_ON_JETPACK6), pycuda=fake_pycuda(count=1))
    probe = cuda_memory.probe_gpus()
    assert (probe.count, probe.binding) == (1, "pycuda") and probe.problems == (probe.problem,)
    assert probe.problem.startswith(DRIVER_LINE)
    assert cuda_memory.gpu_count() == 1
    bindings(cudart=fake_cudart(count=2), pycuda=fake_pycuda(count=1))
    assert cuda_memory.probe_gpus() == cuda_memory.GpuProbe(2, "cuda-python", ())


def test_no_gpu_is_not_a_binding_problem(bindings):
    bindings(cudart=fake_cudart(status=NO_DEVICE))
    assert cuda_memory.probe_gpus() == cuda_memory.GpuProbe(0, "cuda-python", ())
    # no NVIDIA driver at all: the runtime says "insufficient driver" with driver version 0
    bindings(cudart=fake_cudart(status=INSUFFICIENT, driver=0))
    assert cuda_memory.probe_gpus() == cuda_memory.GpuProbe(0, "cuda-python", ())
    bindings(pycuda=fake_pycuda(init_error="cuInit failed: no CUDA-capable device is detected"))
    assert cuda_memory.probe_gpus() == cuda_memory.GpuProbe(0, "pycuda", ())


def test_pycuda_insufficient_driver_and_other_failures_are_reported(bindings):
    bindings(pycuda=fake_pycuda(init_error="cuInit failed: CUDA_ERROR_INSUFFICIENT_DRIVER"))
    probe = cuda_memory.probe_gpus()
    assert probe.count == 0 and probe.binding is None
    assert probe.problem.startswith("pycuda needs a newer CUDA runtime but the NVIDIA driver is older (insufficient")
    bindings(pycuda=fake_pycuda(init_error="cuInit failed: unknown error"))
    assert cuda_memory.probe_gpus().problem == "pycuda: cuInit failed: unknown error"


def test_backend_auto_names_the_binding_problem_before_falling_to_the_cpu(bindings, tmp_path, caplog):
    from ifan_trt.runtime.sidecar import Sidecar, sidecar_bytes, sidecar_path

    engine, onnx = tmp_path / "m.engine", tmp_path / "m.onnx"
    engine.write_bytes(b"plan")
    onnx.write_bytes(b"onnx")
    sidecar_path(engine).write_bytes(sidecar_bytes(Sidecar(
        engine=engine, precision="fp32", inputs=["input"], metadata={}, tensorrt_version="10.3.0", onnx_path=onnx,
        profiles=[{"input": {"min": [1, 3, 8, 8], "opt": [1, 3, 8, 8], "max": [1, 3, 8, 8]}}]).as_dict()))
    bindings(cudart=fake_cudart(**CU13_ON_JETPACK6))
    assert backends.resolve_backend("auto", None, None, str(engine)) == ("onnxruntime", str(onnx))
    err = caplog.messages
    assert len(err) == 1 and err[0].startswith(f"no usable GPU ({DRIVER_LINE}")
    assert err[0].endswith(f"for {engine}; --backend auto runs the ONNX model it was built from, {onnx}, "
                           "on ONNX Runtime instead")
    onnx.unlink()
    with pytest.raises(IfanError, match=r"needs an NVIDIA GPU: no usable GPU \(cuda-python 13\.0\.1 needs"):
        backends.resolve_backend("auto", None, None, str(engine))
    bindings(cudart=fake_cudart(**CU13_ON_JETPACK6), pycuda=fake_pycuda(count=1))
    assert backends.resolve_backend("auto", None, None, str(engine)) == ("tensorrt", str(engine))


def test_gpu_info_names_the_binding_or_the_reason(bindings):
    bindings(cudart=fake_cudart())
    assert cuda_memory.gpu_info() == {"name": "NVIDIA Fake GPU", "compute_capability": "8.7",
                                      "cuda_binding": "cuda-python 13.0.1"}
    bindings(cudart=fake_cudart(**CU13_ON_JETPACK6), pycuda=fake_pycuda())
    assert cuda_memory.gpu_info() == {"name": "Orin (fake)", "compute_capability": "8.7", "cuda_binding": "pycuda"}
    bindings(cudart=fake_cudart(**CU13_ON_JETPACK6))
    info = cuda_memory.gpu_info()
    assert (info["name"], info["compute_capability"], info["cuda_binding"]) == ("unknown", "unknown", None)
    assert info["reason"].startswith(DRIVER_LINE)
    bindings()
    assert cuda_memory.gpu_info()["reason"] == "no CUDA binding installed"
