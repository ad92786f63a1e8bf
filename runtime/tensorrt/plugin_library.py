"""Finding the IFAN_IAC plugin library and loading it into TensorRT's plugin registry.

The library is built per TensorRT major version (TensorRT 11 broke binary compatibility with
10): its file name is ``libifan_iac_plugin_trt<major>.so`` and the file carries the string
``IFAN_IAC_TENSORRT_VERSION=<major>.<minor>.<patch>`` (plugins/iacPlugin/iacPluginLibrary.cpp),
which is read here before loading so that a library built for another TensorRT is refused with
a message instead of failing inside TensorRT.

Search order of :func:`load_plugin`: the ``path`` argument, the ``IFAN_TRT_PLUGIN`` environment
variable, the CMake build folders of a source checkout (``build/``...) and of the current
directory, then the installed package (``ifan_trt/runtime`` and ``ifan_trt/lib``).

TensorRT is imported only when a library is loaded: importing this module needs neither
TensorRT nor torch.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ifan_trt.contract import PLUGIN_NAMESPACE, PLUGIN_VERSION, PLUGIN_OP as PLUGIN_NAME  # TensorRT looks the op type up as the plugin name
from ifan_trt.errors import IfanError

from .importing import import_tensorrt

ENV_VAR = "IFAN_TRT_PLUGIN"
LIBRARY_PREFIX = "libifan_iac_plugin_trt"

_BUILD_TAG = re.compile(re.escape(PLUGIN_NAME.encode()) + rb"_TENSORRT_VERSION=(\d+)\.(\d+)\.(\d+)")
_BUILD_HINT = ("build it with `cmake -S . -B build -DTensorRT_ROOT=<TensorRT folder> && cmake --build build -j2` "
               "in the ifan-trt source folder (plugins/iacPlugin/README.md), or set "
               f"{ENV_VAR}=<path to {LIBRARY_PREFIX}<major>.so>")

# realpath -> registry handle of the libraries loaded in this process (loading twice would
# register the creator twice, which TensorRT refuses)
_loaded: dict[str, object] = {}


def library_name(trt_major: int) -> str:
    """File name of the plugin library for a TensorRT major version."""
    return f"{LIBRARY_PREFIX}{trt_major}.so"


def built_for(path: str | os.PathLike) -> tuple[int, int, int] | None:
    """The TensorRT version a plugin library was compiled against, read from the file (None if
    the file has no IFAN_IAC build tag)."""
    data = Path(path).read_bytes()
    match = _BUILD_TAG.search(data)
    return tuple(int(g) for g in match.groups()) if match else None  # type: ignore[return-value]


def search_dirs() -> list[Path]:
    """Folders searched for the library when no path is given, in order: the build folders of
    the source checkout this module lives in, then those of the current folder (where
    `cmake -B build` puts it)."""
    checkout = Path(__file__).resolve().parents[2]  # runtime/tensorrt/ -> the checkout
    dirs: list[Path] = []
    for root in (checkout, Path.cwd()):
        for sub in ("build", "build/plugins/iacPlugin", "build/lib", "build/Release"):
            if root / sub not in dirs:
                dirs.append(root / sub)
    return dirs


def check_library(path: Path, trt_major: int, source: str) -> Path:
    """The library at path, after checking that it exists and was built for trt_major."""
    if not path.is_file():
        raise IfanError(f"{path}: no such plugin library ({source}); fix the path or {_BUILD_HINT}")
    version = built_for(path)
    if version is None:
        raise IfanError(f"{path}: not an IFAN_IAC plugin library (no IFAN_IAC_TENSORRT_VERSION tag in the "
                        f"file); {_BUILD_HINT}")
    if version[0] != trt_major:
        raise IfanError(
            f"{path}: built for TensorRT {'.'.join(map(str, version))}, but TensorRT {trt_major}.x is "
            f"installed; plugin libraries are not compatible across TensorRT major versions: rebuild "
            f"against TensorRT {trt_major} ({_BUILD_HINT})")
    return path


def find_plugin_library(trt_major: int, path: str | os.PathLike | None = None) -> Path:
    """Path of the plugin library for TensorRT major version trt_major (no TensorRT needed)."""
    if path is not None:
        return check_library(Path(path), trt_major, "given path")
    env = os.environ.get(ENV_VAR)
    if env:
        return check_library(Path(env), trt_major, f"from {ENV_VAR}")
    wanted = library_name(trt_major)
    others: list[Path] = []
    for folder in search_dirs():
        candidate = folder / wanted
        if candidate.is_file():
            return check_library(candidate, trt_major, f"found in {folder}")
        if folder.is_dir():
            others += sorted(folder.glob(f"{LIBRARY_PREFIX}*.so"))
    if others:
        found = ", ".join(str(p) for p in others)
        raise IfanError(f"{wanted}: not found, only plugin libraries for other TensorRT versions ({found}); "
                        f"TensorRT {trt_major} is installed: {_BUILD_HINT}")
    searched = ", ".join(str(d) for d in search_dirs())
    raise IfanError(f"{wanted}: IFAN_IAC plugin library not found (searched {searched}); {_BUILD_HINT}")


def trt_major_version(trt) -> int:
    try:
        return int(str(trt.__version__).split(".")[0])
    except (AttributeError, ValueError) as exc:
        raise IfanError(f"tensorrt: cannot read the TensorRT version ({exc})") from exc


def _find_creator(registry):
    """The IFAN_IAC creator if registered, else None. Listed from all_creators (TensorRT 10+):
    get_creator logs an error for a plugin that is not registered yet, which is the normal case
    before load_library."""
    creators = getattr(registry, "all_creators", None)
    if creators is None:
        getter = getattr(registry, "get_creator", None) or getattr(registry, "get_plugin_creator")
        return getter(PLUGIN_NAME, PLUGIN_VERSION, PLUGIN_NAMESPACE)
    wanted = (PLUGIN_NAME, PLUGIN_VERSION, PLUGIN_NAMESPACE)
    return next((c for c in creators if (c.name, c.plugin_version, c.plugin_namespace) == wanted), None)


def load_plugin(path: str | os.PathLike | None = None) -> Path:
    """Load the IFAN_IAC plugin library into TensorRT's plugin registry (once per process) and
    return its path. Raises IfanError when the library is missing, was built for another
    TensorRT major version, or TensorRT cannot load it."""
    trt = import_tensorrt()
    major = trt_major_version(trt)
    library = find_plugin_library(major, path)
    key = os.path.realpath(library)
    if key in _loaded:
        return library
    registry = trt.get_plugin_registry()
    if _loaded:
        other = next(iter(_loaded))
        raise IfanError(f"{library}: the IFAN_IAC plugin is already loaded from {other}; load one library per process")
    if _find_creator(registry) is not None:
        # registered by someone else (the application, a static build): loading again would fail
        _loaded[key] = None
        return library
    handle = registry.load_library(str(library))
    if handle is None:
        raise IfanError(f"{library}: TensorRT could not load the plugin library (see TensorRT's log above): it may "
                        f"be built for another CUDA version, or libcudart is missing; {_BUILD_HINT}")
    if _find_creator(registry) is None:
        raise IfanError(f"{library}: loaded, but TensorRT has no creator {PLUGIN_NAME} version {PLUGIN_VERSION}; "
                        f"rebuild the library from this source ({_BUILD_HINT})")
    _loaded[key] = handle
    return library
