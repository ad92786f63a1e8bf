"""Importing TensorRT: the one place that says, in one line, what is missing and how to get it
(on a desktop: a pip extra matching the NVIDIA driver; on a Jetson: JetPack's TensorRT, which a
plain venv cannot see)."""

from __future__ import annotations

from pathlib import Path

from ifan_trt.errors import IfanError

JETSON_RELEASE = Path("/etc/nv_tegra_release")  # present on every L4T / JetPack install


def on_jetson() -> bool:
    return JETSON_RELEASE.is_file()


def install_hint(jetson: bool | None = None) -> str:
    if on_jetson() if jetson is None else jetson:
        return ("on a Jetson TensorRT comes with JetPack (python3-libnvinfer): make the venv with "
                "`python3 -m venv --system-site-packages` and pip install 'ifan-trt[jetpack6]' "
                "('ifan-trt[jetpack60]' on JetPack 6.0)")
    return "pip install 'ifan-trt[trt-cu12]' (NVIDIA driver 525 or newer) or 'ifan-trt[trt-cu13]' (driver 580 or newer)"


def missing_tensorrt(exc: BaseException, alternative: str = "", jetson: bool | None = None) -> IfanError:
    """The error for a failed `import tensorrt`: not installed, or installed but not loadable."""
    detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    absent = isinstance(exc, ModuleNotFoundError) and exc.name == "tensorrt"
    what = "TensorRT is not installed" if absent else "TensorRT is installed but does not load"
    tail = f"; {alternative}" if alternative else ""
    return IfanError(f"{what} ({detail}); {install_hint(jetson)}{tail}")


def import_tensorrt(alternative: str = ""):
    """The tensorrt module, or an IfanError naming what is missing (alternative: what else the user can run)."""
    try:
        import tensorrt
    except (ImportError, OSError) as exc:  # OSError: libnvinfer (or its CUDA) missing behind the Python package
        raise missing_tensorrt(exc, alternative) from None
    return tensorrt
