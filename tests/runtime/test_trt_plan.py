"""The TensorRT executor's logic that needs no GPU: profile choice, shape checks, buffer planning,
limits for tiling and batching, the engine sidecar, the CUDA module's selection."""

import json

import numpy as np
import pytest

from ifan_trt.errors import IfanError
from ifan_trt.runtime.model_files import plan as trt_plan
from ifan_trt.runtime.model_files.metadata import info_from_sidecar
from ifan_trt.runtime.model_files.sidecar import Sidecar, read_sidecar, sidecar_bytes, sidecar_profiles
from ifan_trt.runtime.model_files.plan import Profile, TensorSpec
from ifan_trt.contract import META

DYNAMIC = [TensorSpec("input", True, np.dtype(np.float32), (-1, 3, -1, -1)),
           TensorSpec("output", False, np.dtype(np.float32), (-1, 3, -1, -1))]
PROFILES = [  # a small-image profile with batching, and a large single-image one
    Profile(0, {"input": ((1, 3, 64, 64), (4, 3, 256, 256), (8, 3, 512, 512))}),
    Profile(1, {"input": ((1, 3, 256, 256), (1, 3, 720, 1280), (1, 3, 1088, 1920))}),
]


def test_profile_choice_prefers_the_nearest_opt():
    assert trt_plan.choose_profile(PROFILES, {"input": (4, 3, 256, 256)}).index == 0
    assert trt_plan.choose_profile(PROFILES, {"input": (1, 3, 720, 1280)}).index == 1
    # fits both: 1x3x480x480 is nearer profile 0's opt volume (4*256*256) than profile 1's (720*1280)
    assert trt_plan.choose_profile(PROFILES, {"input": (1, 3, 480, 480)}).index == 0
    assert trt_plan.choose_profile(PROFILES, {"input": (1, 3, 600, 1000)}).index == 1


def test_shape_outside_every_profile_names_the_ranges_and_the_fix():
    with pytest.raises(IfanError, match=r"input: shape 2x3x720x1280 is outside every optimisation profile.*"
                                        r"profile 0: 1x3x64x64 \.\. 8x3x512x512.*--tile"):
        trt_plan.choose_profile(PROFILES, {"input": (2, 3, 720, 1280)})


def test_shape_checks_against_the_declared_tensors():
    trt_plan.check_rank(DYNAMIC, {"input": (1, 3, 64, 64)})
    with pytest.raises(IfanError, match=r"input: shape \[1, 4, 64, 64\] does not match"):
        trt_plan.check_rank(DYNAMIC, {"input": (1, 4, 64, 64)})
    with pytest.raises(IfanError, match="no such input"):
        trt_plan.check_rank(DYNAMIC, {"input": (1, 3, 8, 8), "left": (1, 3, 8, 8)})
    dual = DYNAMIC + [TensorSpec("left", True, np.dtype(np.float32), (-1, 3, -1, -1))]
    with pytest.raises(IfanError, match="also needs the inputs left"):
        trt_plan.check_rank(dual, {"input": (1, 3, 8, 8)})


def test_buffers_planned_once_for_the_largest_shape():
    sizes = trt_plan.plan_buffers(DYNAMIC, PROFILES)
    largest = 8 * 3 * 1088 * 1920 * 4  # element-wise max over profiles: batch 8 and 1088x1920
    assert sizes == {"input": largest, "output": largest}
    fp16 = [TensorSpec("input", True, np.dtype(np.float16), (1, 3, 720, 1280)),
            TensorSpec("output", False, np.dtype(np.float16), (1, 3, 720, 1280))]
    assert trt_plan.plan_buffers(fp16, trt_plan.static_profiles(fp16)) == {"input": 5529600, "output": 5529600}


def test_static_engines():
    static = [TensorSpec("input", True, np.dtype(np.float32), (1, 3, 720, 1280)),
              TensorSpec("output", False, np.dtype(np.float32), (1, 3, 720, 1280))]
    assert trt_plan.is_static(static) and not trt_plan.is_static(DYNAMIC)
    profiles = trt_plan.static_profiles(static)
    limits = trt_plan.shape_limits(profiles)
    assert (limits.min_hw, limits.max_hw, limits.max_batch) == ((720, 1280), (720, 1280), 1)
    with pytest.raises(IfanError):
        trt_plan.choose_profile(profiles, {"input": (1, 3, 480, 640)})


def test_limits_and_batch_for_the_pipeline():
    limits = trt_plan.shape_limits(PROFILES)
    assert (limits.min_batch, limits.max_batch, limits.min_hw, limits.max_hw) == (1, 8, (64, 64), (1088, 1920))
    assert trt_plan.max_batch(PROFILES, 256, 256) == 8
    assert trt_plan.max_batch(PROFILES, 720, 1280) == 1
    assert trt_plan.max_batch(PROFILES, 2000, 2000) == 0


def _sidecar(tmp_path, **extra):
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"engine")
    data = Sidecar(
        engine=engine, precision="fp16", tensorrt_version="10.3.0", inputs=["input"],
        metadata={META.variant: "IFAN", META.n_iters: "17", META.dual: "false", META.in_bit: "8",
                  META.iac_mode: "official", META.iac_form: "plugin", META.normalization: "rgb/255",
                  META.size_multiple: "8", META.precision: "fp32"},
        profiles=[{"input": {"min": [1, 3, 64, 64], "opt": [1, 3, 720, 1280], "max": [2, 3, 1088, 1920]}}]).as_dict()
    data.update(extra)
    (tmp_path / "m.engine.json").write_bytes(sidecar_bytes(data))
    return engine


def test_sidecar_gives_model_facts_and_profiles(tmp_path):
    engine = _sidecar(tmp_path)
    info = info_from_sidecar(engine)
    assert (info.variant, info.n_iters, info.precision, info.iac_form) == ("IFAN", 17, "fp16", "plugin")
    profiles = sidecar_profiles(read_sidecar(engine))
    assert profiles == [Profile(0, {"input": ((1, 3, 64, 64), (1, 3, 720, 1280), (2, 3, 1088, 1920))})]


def test_sidecar_errors(tmp_path):
    with pytest.raises(IfanError, match=r"m.engine.json: missing; the engine's sidecar"):
        info_from_sidecar(tmp_path / "m.engine")
    (tmp_path / "m.engine.json").write_text("{broken")
    with pytest.raises(IfanError, match="not a readable JSON sidecar"):
        info_from_sidecar(tmp_path / "m.engine")
    engine = _sidecar(tmp_path, metadata={META.n_iters: "17"})
    with pytest.raises(IfanError, match="no ifan.variant metadata"):
        info_from_sidecar(engine)


@pytest.mark.parametrize("change, message", [
    ({"format": None}, "format is None, not 'ifan-trt engine sidecar 1'"),
    ({"precision": "int4"}, "precision 'int4' is not one of fp32"),
    ({"onnx": {"path": 5}}, "onnx.path must be a string or null, got 5"),
    ({"metadata": {META.n_iters: 17}}, "metadata must map ifan.* keys to strings"),
    ({"profiles": []}, "profiles must be a non-empty list"),
    ({"profiles": [{"input": {"min": [1, 3, 8], "opt": [1, 3, 8, 8], "max": [1, 3, 8, 8]}}]}, "a profile shape must be 4 positive integers"),
    ({"plugin_library": {"path": ["x"]}}, "plugin_library.path must be a string"),
])
def test_sidecar_fields_are_checked_before_use(tmp_path, change, message):
    engine = _sidecar(tmp_path)
    data = json.loads((tmp_path / "m.engine.json").read_text())
    data.update(change)
    (tmp_path / "m.engine.json").write_text(json.dumps(data))
    with pytest.raises(IfanError) as err:
        read_sidecar(engine)
    assert str(err.value).startswith(f"{tmp_path / 'm.engine.json'}: {message}")
    assert "rebuild the engine with `ifan build`" in str(err.value)


def test_cuda_module_selection_without_bindings(monkeypatch):
    from ifan_trt.runtime.tensorrt import cuda as cuda_memory

    monkeypatch.setattr(cuda_memory, "available_implementations", lambda: [])
    with pytest.raises(IfanError, match="needs cuda-python or pycuda"):
        cuda_memory.open_cuda("auto")
    monkeypatch.setattr(cuda_memory, "available_implementations", lambda: ["cuda-python"])
    with pytest.raises(IfanError, match="pycuda is not installed"):
        cuda_memory.open_cuda("pycuda")
    with pytest.raises(IfanError, match="unknown CUDA implementation"):
        cuda_memory.open_cuda("opencl")


def test_tensorrt_missing_is_a_clear_error(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_tensorrt(name, *args, **kwargs):
        if name == "tensorrt":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorrt)
    from ifan_trt.runtime.tensorrt.executor import TrtExecutor

    with pytest.raises(IfanError, match=r"^TensorRT is not installed \(No module named 'tensorrt'\); .*"
                                        r"--backend onnxruntime$"):
        TrtExecutor(_sidecar(tmp_path))


def test_one_owner_says_what_is_missing_from_tensorrt():
    from ifan_trt.runtime.tensorrt.importing import missing_tensorrt

    absent = str(missing_tensorrt(ModuleNotFoundError("No module named 'tensorrt'", name="tensorrt"), jetson=False))
    assert absent == ("TensorRT is not installed (No module named 'tensorrt'); pip install 'ifan-trt[trt-cu12]' "
                      "(NVIDIA driver 525 or newer) or 'ifan-trt[trt-cu13]' (driver 580 or newer)")
    broken = str(missing_tensorrt(ImportError("libnvinfer.so.10: cannot open shared object file\nmore"), jetson=True))
    assert broken.startswith("TensorRT is installed but does not load (libnvinfer.so.10: cannot open shared object "
                             "file); on a Jetson TensorRT comes with JetPack (python3-libnvinfer): make the venv with "
                             "`python3 -m venv --system-site-packages`")
    assert "\n" not in broken and "'ifan-trt[jetpack6]'" in broken and "'ifan-trt[jetpack60]' on JetPack 6.0" in broken


def test_static_from_the_profiles_when_the_engine_declares_dynamic_dims():
    fixed = Profile(0, {"input": ((1, 3, 720, 1280),) * 3})
    assert trt_plan.is_static(DYNAMIC, [fixed])  # `--shapes min=S,opt=S,max=S`: TensorRT still says -1
    assert trt_plan.is_static(DYNAMIC, [fixed, Profile(1, {"input": ((2, 3, 256, 256),) * 3})])
    assert not trt_plan.is_static(DYNAMIC, [fixed, PROFILES[0]])
    assert not trt_plan.is_static(DYNAMIC, []) and not trt_plan.is_static(DYNAMIC)


def test_ifan_says_in_one_line_that_tensorrt_is_missing(tmp_path):
    """End to end in a child Python where `import tensorrt` fails: one line, exit 1, no output."""
    import subprocess
    import sys

    import cv2

    engine = _sidecar(tmp_path)
    cv2.imwrite(str(tmp_path / "in.png"), np.zeros((16, 16, 3), np.uint8))
    code = ("import sys; sys.modules['tensorrt'] = None; from ifan_trt.cli import main; "
            "sys.exit(main(sys.argv[1:]))")
    r = subprocess.run([sys.executable, "-c", code, "deblur", str(tmp_path / "in.png"), "-o", str(tmp_path / "o.png"),
                        "--engine", str(engine), "--backend", "tensorrt"], capture_output=True, text=True, timeout=120)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1 and len(lines) == 1, r.stderr
    assert lines[0].startswith("ifan deblur: error: TensorRT is not installed (import of tensorrt halted")
    assert "'ifan-trt[" in lines[0] and lines[0].endswith("or run the ONNX model with --backend onnxruntime")
    assert not (tmp_path / "o.png").exists()
