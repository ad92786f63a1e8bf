"""The fused C++ IAC (bench/native/iac_cpu.cpp): built with g++ on first use, called by ctypes.

Why not a compiled ONNX Runtime custom-op library: the onnxruntime wheel ships no C API header,
and writing one by hand (the OrtApi function table) would be fragile across versions. So the
native kernel reaches ONNX Runtime as an onnxruntime-extensions Python op whose body is one
ctypes call into this library (row d); the arithmetic is native, the glue is Python.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import subprocess
from pathlib import Path

import numpy as np

from ifan_trt.files import atomic_path

SOURCE = Path(__file__).with_name("native") / "iac_cpu.cpp"
CXXFLAGS = ["-O3", "-march=native", "-fopenmp", "-shared", "-fPIC", "-ffp-contract=off"]
_lib = None


def library_path(cache_dir: str | os.PathLike) -> Path:
    """Build the library into cache_dir (once per source and flags), return its path."""
    source = SOURCE.read_bytes()
    digest = hashlib.sha256(source + " ".join(CXXFLAGS).encode()).hexdigest()[:12]
    out = Path(cache_dir) / f"libifan_iac_cpu_{digest}.so"
    if not out.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(out, overwrite=True) as tmp:
            cmd = ["g++", *CXXFLAGS, str(SOURCE), "-o", str(tmp)]
            result = subprocess.run(cmd, capture_output=True, text=True)
            if result.returncode:
                raise RuntimeError(f"building {SOURCE.name} failed ({' '.join(cmd)}):\n{result.stderr[-2000:]}")
    return out


def load(cache_dir: str | os.PathLike):
    global _lib
    if _lib is None:
        lib = ctypes.CDLL(str(library_path(cache_dir)))
        fn = lib.ifan_iac_cpu
        i64 = ctypes.c_int64
        fn.argtypes = [ctypes.c_void_p] * 3 + [i64] * 8 + [ctypes.c_float, ctypes.c_int]
        fn.restype = ctypes.c_int
        _lib = lib
    return _lib


def iac_native(x: np.ndarray, filters: np.ndarray, n_iters: int, k: int = 3, mode: int = 0, layout: int = 0,
               slope: float = 0.1, threads: int = 0, cache_dir: str | os.PathLike = "/tmp/ifan_bench") -> np.ndarray:
    """IAC of float32 features (B, c, h, w) with filters F; mode/layout as the plugin's INT codes."""
    lib = load(cache_dir)
    x = np.ascontiguousarray(x, np.float32)
    filters = np.ascontiguousarray(filters, np.float32)
    b, c, h, w = x.shape
    per_iter = c * k * (2 if layout == 0 else 1)
    if filters.shape != (b, n_iters * (per_iter + c), h, w):
        raise ValueError(f"filters {filters.shape} do not fit features {x.shape} with N={n_iters}, k={k}, layout={layout}")
    out = np.empty_like(x)
    code = lib.ifan_iac_cpu(x.ctypes.data, filters.ctypes.data, out.ctypes.data, b, c, h, w, n_iters, k, mode,
                            layout, slope, threads)
    if code:
        raise ValueError(f"ifan_iac_cpu rejected N={n_iters}, k={k}, mode={mode}, layout={layout} (code {code})")
    return out


def ort_session(onnx_path: str | os.PathLike, options, threads: int, cache_dir: str | os.PathLike):
    """An ONNX Runtime session of a plugin-form graph whose IFAN_IAC node runs iac_native."""
    import onnx
    import onnxruntime as ort
    from onnxruntime_extensions import PyCustomOpDef, get_library_path, onnx_op

    load(cache_dir)
    int64, f32 = PyCustomOpDef.dt_int64, PyCustomOpDef.dt_float

    @onnx_op(op_type="IFAN_IAC", inputs=[f32, f32], outputs=[f32],
             attrs={"N": int64, "k": int64, "mode": int64, "layout": int64, "slope": f32})
    def _ifan_iac(x, filters, N, k, mode, layout, slope):  # noqa: N803 (attribute names)
        return iac_native(x, filters, N, k, mode, layout, slope, threads, cache_dir)

    model = onnx.load(os.fspath(onnx_path))
    for node in model.graph.node:
        if node.op_type == "IFAN_IAC":
            node.domain = "ai.onnx.contrib"  # where onnxruntime-extensions looks Python ops up
    if not any(o.domain == "ai.onnx.contrib" for o in model.opset_import):
        model.opset_import.append(onnx.helper.make_opsetid("ai.onnx.contrib", 1))
    options.register_custom_ops_library(get_library_path())
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
