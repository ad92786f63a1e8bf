"""Loaded at start-up (a .pth file) in the fresh virtual environments of test_docs_gpu_blocks.py:
the first `import tensorrt`, `import cuda...` or `import pycuda...` (or a find_spec of one) puts
the test suite's TensorRT and CUDA stand-ins (tests/helpers/fake_tensorrt.py, through its
install()) in sys.modules, as a JetPack or a pip install of TensorRT would provide the real ones.
The checkout's root (IFAN_STANDIN_ROOT) is where tests.helpers is found."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys

NAMES = ("tensorrt", "cuda", "pycuda")
_installed = False


def _install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    sys.path.append(os.environ["IFAN_STANDIN_ROOT"])
    import pytest

    from tests.helpers import fake_tensorrt

    fake_tensorrt.install(pytest.MonkeyPatch())  # for the life of this process
    for name, module in list(sys.modules.items()):  # a spec with a loader, as installed modules have
        if name.split(".")[0] not in NAMES or module is None:
            continue
        if getattr(module, "__spec__", None) is None:
            module.__spec__ = importlib.machinery.ModuleSpec(name, _Loader())
        elif module.__spec__.loader is None:
            module.__spec__.loader = _Loader()


class _Loader(importlib.abc.Loader):
    def create_module(self, spec):
        return sys.modules[spec.name]

    def exec_module(self, module):
        pass


class StandinFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] not in NAMES:
            return None
        _install()
        if sys.modules.get(name) is None:
            return None
        return importlib.util.spec_from_loader(name, _Loader())


if os.environ.get("IFAN_STANDIN_ROOT"):
    sys.meta_path.insert(0, StandinFinder())
