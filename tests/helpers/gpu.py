"""The one probe the GPU tiers skip by: call it at the top of a GPU test module (module-level
skip with the reason; the `gpu` marker is applied by the module's pytestmark)."""

from __future__ import annotations

import pytest


def require_tensorrt_gpu(*, polygraphy: bool = False, binding: bool = True):
    """The tensorrt module, or a module-level skip naming what is missing: TensorRT (and
    polygraphy when asked), a CUDA binding, a visible GPU."""
    trt = pytest.importorskip("tensorrt", reason="TensorRT is not installed (pip install 'ifan-trt[trt]'; "
                                                 "GPU machines only)")
    if polygraphy:
        pytest.importorskip("polygraphy", reason="polygraphy is not installed (pip install 'ifan-trt[trt]')")
    if binding:
        from ifan_trt.runtime.tensorrt.cuda import available_implementations, probe_gpus

        if not available_implementations():
            pytest.skip("neither cuda-python nor pycuda is installed", allow_module_level=True)
        probe = probe_gpus()
        if probe.count == 0:  # a GPU behind a broken binding or an old driver is named, not hidden
            pytest.skip(f"no usable CUDA GPU{f' ({probe.problem})' if probe.problem else ''}", allow_module_level=True)
    return trt


def require_torch_cuda():
    """torch with a visible CUDA GPU, or a module-level skip."""
    torch = pytest.importorskip("torch", reason="torch is not installed")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU visible to torch", allow_module_level=True)
    return torch
