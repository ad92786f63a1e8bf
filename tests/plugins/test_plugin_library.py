"""load_plugin(): finding the IFAN_IAC library, refusing one built for another TensorRT major
version, loading it once, and the messages a user sees. A stand-in `tensorrt` module records the
calls (no TensorRT here); the library files are stand-ins carrying the build tag."""

from __future__ import annotations

import sys
from pathlib import Path
import types

import pytest

from ifan_trt.errors import IfanError
from ifan_trt.runtime.tensorrt import plugin_library as pl


def fake_library(path, version="10.3.0"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x7fELF...\x00IFAN_IAC_TENSORRT_VERSION=" + version.encode() + b"\x00...")
    return path


class FakeRegistry:
    def __init__(self, load_ok=True, registers=True, preloaded=False):
        self.loaded = []
        self.load_ok, self.registers, self.has_creator = load_ok, registers, preloaded

    def load_library(self, path):
        self.loaded.append(path)
        if not self.load_ok:
            return None
        self.has_creator = self.has_creator or self.registers
        return object()

    def get_creator(self, name, version, namespace):
        assert (name, version, namespace) == ("IFAN_IAC", "1", "")
        return object() if self.has_creator else None


@pytest.fixture
def fake_trt(monkeypatch):
    def install(version="10.3.0", **registry_kw):
        registry = FakeRegistry(**registry_kw)
        module = types.SimpleNamespace(__version__=version, get_plugin_registry=lambda: registry)
        monkeypatch.setitem(sys.modules, "tensorrt", module)
        return registry
    monkeypatch.setattr(pl, "_loaded", {})
    monkeypatch.delenv(pl.ENV_VAR, raising=False)
    return install


@pytest.fixture
def search_in(monkeypatch, tmp_path):
    folder = tmp_path / "build"
    monkeypatch.setattr(pl, "search_dirs", lambda: [folder, tmp_path / "pkg"])
    return folder


def test_library_name_and_build_tag(tmp_path):
    assert pl.library_name(10) == "libifan_iac_plugin_trt10.so"
    assert pl.built_for(fake_library(tmp_path / "a.so", "11.1.0")) == (11, 1, 0)
    (tmp_path / "b.so").write_bytes(b"\x7fELF nothing")
    assert pl.built_for(tmp_path / "b.so") is None


def test_finds_the_library_for_the_installed_major_version(fake_trt, search_in):
    registry = fake_trt("10.3.0")
    fake_library(search_in / "libifan_iac_plugin_trt11.so", "11.1.0")
    lib = fake_library(search_in / "libifan_iac_plugin_trt10.so", "10.3.0")
    assert pl.load_plugin() == lib
    assert registry.loaded == [str(lib)]


def test_loads_once_per_process(fake_trt, search_in):
    registry = fake_trt()
    lib = fake_library(search_in / "libifan_iac_plugin_trt10.so")
    assert pl.load_plugin() == pl.load_plugin() == lib
    assert len(registry.loaded) == 1


def test_explicit_path_and_env_var(fake_trt, search_in, tmp_path, monkeypatch):
    fake_trt("11.1.0")
    lib = fake_library(tmp_path / "custom" / "any_name.so", "11.1.0")
    assert pl.find_plugin_library(11, lib) == lib
    monkeypatch.setenv(pl.ENV_VAR, str(lib))
    assert pl.load_plugin() == lib


def test_env_var_pointing_nowhere(fake_trt, search_in, tmp_path, monkeypatch):
    fake_trt()
    monkeypatch.setenv(pl.ENV_VAR, str(tmp_path / "missing.so"))
    with pytest.raises(IfanError, match=r"missing\.so: no such plugin library \(from IFAN_TRT_PLUGIN\).*cmake"):
        pl.load_plugin()


def test_missing_library_says_how_to_build(fake_trt, search_in):
    fake_trt()
    with pytest.raises(IfanError, match=r"libifan_iac_plugin_trt10\.so: IFAN_IAC plugin library not found "
                                        r"\(searched .*build.*\).*cmake -S \. -B build"):
        pl.load_plugin()


def test_library_for_another_major_version(fake_trt, search_in):
    fake_trt("10.3.0")
    fake_library(search_in / "libifan_iac_plugin_trt11.so", "11.1.0")
    with pytest.raises(IfanError, match=r"only plugin libraries for other TensorRT versions .*trt11\.so.*"
                                        r"TensorRT 10 is installed"):
        pl.load_plugin()


def test_renamed_library_built_for_another_version(fake_trt, tmp_path):
    fake_trt("10.3.0")
    lib = fake_library(tmp_path / "libifan_iac_plugin_trt10.so", "11.1.0")  # name lies, tag does not
    with pytest.raises(IfanError, match=r"built for TensorRT 11\.1\.0, but TensorRT 10\.x is installed.*rebuild"):
        pl.load_plugin(lib)


def test_not_a_plugin_library(fake_trt, tmp_path):
    fake_trt()
    other = tmp_path / "libsomething.so"
    other.write_bytes(b"\x7fELF other library")
    with pytest.raises(IfanError, match="not an IFAN_IAC plugin library"):
        pl.load_plugin(other)


def test_tensorrt_refuses_the_library(fake_trt, search_in):
    fake_trt(load_ok=False)
    fake_library(search_in / "libifan_iac_plugin_trt10.so")
    with pytest.raises(IfanError, match="TensorRT could not load the plugin library"):
        pl.load_plugin()


def test_library_without_the_creator(fake_trt, search_in):
    fake_trt(registers=False)
    fake_library(search_in / "libifan_iac_plugin_trt10.so")
    with pytest.raises(IfanError, match="no creator IFAN_IAC version 1"):
        pl.load_plugin()


def test_creator_already_registered_is_not_loaded_again(fake_trt, search_in):
    registry = fake_trt(preloaded=True)
    fake_library(search_in / "libifan_iac_plugin_trt10.so")
    pl.load_plugin()
    assert registry.loaded == []


class ListingRegistry(FakeRegistry):
    """TensorRT 10+: all_creators lists what is registered; get_creator on a missing plugin logs
    an error in TensorRT's log, which must not appear before every first load."""

    @property
    def all_creators(self):
        v3 = types.SimpleNamespace(name="IFAN_IAC", plugin_version="1", plugin_namespace="")
        other = types.SimpleNamespace(name="IFAN_IAC", plugin_version="2", plugin_namespace="")
        return [other, v3] if self.has_creator else [other]

    def get_creator(self, name, version, namespace):
        raise AssertionError("get_creator called: TensorRT would log 'plugin not found'")


def test_registry_is_listed_not_queried(monkeypatch, search_in):
    registry = ListingRegistry()
    monkeypatch.setitem(sys.modules, "tensorrt", types.SimpleNamespace(__version__="10.3.0",
                                                                      get_plugin_registry=lambda: registry))
    monkeypatch.setattr(pl, "_loaded", {})
    monkeypatch.delenv(pl.ENV_VAR, raising=False)
    lib = fake_library(search_in / "libifan_iac_plugin_trt10.so")
    assert pl.load_plugin() == lib and registry.loaded == [str(lib)]
    monkeypatch.setattr(pl, "_loaded", {})
    preloaded = ListingRegistry(preloaded=True)
    monkeypatch.setattr(sys.modules["tensorrt"], "get_plugin_registry", lambda: preloaded)
    assert pl.load_plugin() == lib and preloaded.loaded == []


def test_without_tensorrt(monkeypatch):
    from ifan_trt.runtime.tensorrt import importing as tensorrt_import

    monkeypatch.setitem(sys.modules, "tensorrt", None)  # import raises ImportError
    monkeypatch.setattr(tensorrt_import, "on_jetson", lambda: False)
    with pytest.raises(IfanError, match=r"^TensorRT is not installed .*pip install 'ifan-trt\[trt-cu12\]'"):
        pl.load_plugin()


def test_import_needs_neither_tensorrt_nor_torch():
    import subprocess

    code = ("import sys; import ifan_trt.runtime.tensorrt.plugin_library, bench.iac_network; "
            "assert 'tensorrt' not in sys.modules and 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_search_dirs_are_the_checkouts_and_the_current_folders_builds(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    checkout = Path(pl.__file__).resolve().parents[2]
    dirs = pl.search_dirs()
    assert dirs[0] == checkout / "build" and (checkout / "plugins").is_dir()
    assert tmp_path / "build" / "plugins" / "iacPlugin" in dirs
    assert all(d.parent.name == "build" or d.name == "build" or d.parent.parent.name == "build" for d in dirs)
