"""Optional dependencies: import one, or fail with the install line of the extra that brings it."""

from __future__ import annotations

import importlib

from ifan_trt.errors import IfanError


def require(module: str, extra: str = "cpu"):
    """Import module, or fail with the install line (one line, no traceback)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        package = module.split(".")[0].replace("_", "-")
        raise IfanError(f"{package} is not installed: pip install 'ifan-trt[{extra}]'") from None
