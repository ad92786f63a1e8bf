"""`ifan build --dla-core N`: refused in one line where the device has no such DLA core (before
any preparation), configured with GPU fallback (the names of TensorRT 10.3's and 11.x's Python
API: IBuilder.num_DLA_cores, IBuilderConfig.default_device_type / DLA_core / can_run_on_DLA,
BuilderFlag.GPU_FALLBACK, DeviceType.DLA), recorded in the sidecar and shown by `ifan inspect`."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

from ifan_trt.commands import build as build_cmd
from ifan_trt.errors import IfanError
from ifan_trt.runtime.tensorrt import build as engine_build
from ifan_trt.runtime.tensorrt.inspect import layer_precisions
from tests.engine.test_build_engine import _args
from tests.helpers.build import tiny_graph
from tests.helpers.fake_tensorrt import builder_tensorrt

# what the inspector of an engine built for a DLA shows: the DLA subgraph as one layer
DLA_LAYERS = {"Layers": [
    {"Name": "{ForeignNode[conv1...act1]}", "LayerType": "DLA",
     "Inputs": [{"Name": "input", "Format/Datatype": "Row major linear FP16 format"}],
     "Outputs": [{"Name": "feat", "Format/Datatype": "Row major linear FP16 format"}]},
    {"Name": "iac", "LayerType": "PluginV3",
     "Inputs": [{"Name": "feat", "Format/Datatype": "Row major linear FP16 format"}],
     "Outputs": [{"Name": "iac_output", "Format/Datatype": "Row major linear FP16 format"}]},
]}


def dla_tensorrt(cores: int):
    """The builder fake plus what --dla-core touches: Builder.num_DLA_cores, the enums."""
    trt = builder_tensorrt()
    trt.Logger = type("Logger", (), {"WARNING": 2, "__init__": lambda self, level=None: None})
    trt.Builder = type("Builder", (), {"__init__": lambda self, logger: None, "num_DLA_cores": cores})
    trt.DeviceType = types.SimpleNamespace(GPU=0, DLA=1)
    trt.BuilderFlag = types.SimpleNamespace(GPU_FALLBACK=3)
    return trt


class Layer:
    def __init__(self, name, kind):
        self.name, self.type = name, kind


class Network:
    layers = [Layer("conv1", "CONVOLUTION"), Layer("act1", "ACTIVATION"), Layer("iac", "PLUGIN_V3")]
    num_layers = 3

    def get_layer(self, i):
        return self.layers[i]


class Config:
    """IBuilderConfig as far as configure_dla uses it; DLA never takes plugins."""

    def __init__(self):
        self.flags, self.default_device_type, self.DLA_core = set(), 0, -1

    def set_flag(self, flag):
        self.flags.add(flag)

    def can_run_on_DLA(self, layer):
        return self.default_device_type == 1 and layer.type != "PLUGIN_V3"


def test_dla_problems():
    assert engine_build.dla_problem(0, 2) is None and engine_build.dla_problem(1, 2) is None
    assert engine_build.dla_problem(0, 0).startswith("--dla-core 0: this device has no DLA (TensorRT reports 0")
    assert engine_build.dla_problem(2, 2) == "--dla-core 2: this device has 2 DLA core(s), numbered 0 to 1"


def test_configure_dla_sets_core_default_device_and_gpu_fallback():
    trt, config = dla_tensorrt(2), Config()
    eligible = engine_build.configure_dla(trt, Network(), config, 1)
    assert (config.default_device_type, config.DLA_core, config.flags) == (trt.DeviceType.DLA, 1, {3})
    assert eligible == ["conv1", "act1"]  # the plugin stays on the GPU


def test_dla_layers_from_the_inspector():
    assert engine_build.dla_layers(layer_precisions(DLA_LAYERS)) == ["{ForeignNode[conv1...act1]}"]


def test_no_dla_refused_in_one_line_before_any_preparation(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", dla_tensorrt(0))
    monkeypatch.setattr(engine_build, "build_plan", lambda *a, **k: pytest.fail("built without a DLA"))
    onnx_path = tiny_graph(tmp_path / "tiny.onnx")
    with pytest.raises(IfanError, match=r"^--dla-core 0: this device has no DLA"):
        build_cmd.run(_args(onnx_path, tmp_path / "e.plan", "--dla-core", "0", "--precision", "fp16"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.onnx"]  # no FP16 graph prepared, no engine


def test_dla_core_recorded_in_sidecar_report_and_inspect(tmp_path, monkeypatch, capsys, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="ifan")  # the build's report goes to the ifan logger
    monkeypatch.setitem(sys.modules, "tensorrt", dla_tensorrt(2))
    seen = {}

    def build_plan(trt, onnx_path, profiles, inputs, workspace, level, version_compatible, plugin_lib, cache,
                   tf32=True, dla=None):
        seen["dla"] = dict(dla)
        dla["eligible_layers"] = engine_build.configure_dla(trt, Network(), Config(), dla["core"])
        return b"PLAN"

    monkeypatch.setattr(engine_build, "build_plan", build_plan)
    monkeypatch.setattr(engine_build, "inspect_plan", lambda *a, **k: layer_precisions(DLA_LAYERS))
    monkeypatch.setattr(engine_build, "gpu_info", lambda: {"name": "Orin (fake)", "compute_capability": "8.7"})
    onnx_path = tiny_graph(tmp_path / "tiny.onnx")
    out = tmp_path / "e.plan"
    assert build_cmd.run(_args(onnx_path, out, "--dla-core", "1")) == 0
    assert seen["dla"] == {"core": 1, "gpu_fallback": True}
    side = json.loads(Path(f"{out}.json").read_text())
    assert side["dla"] == {"core": 1, "gpu_fallback": True, "layers_on_dla": ["{ForeignNode[conv1...act1]}"],
                           "eligible_layers": 2}
    err = capsys.readouterr().err + caplog.text
    assert "--dla-core with an FP32 engine: the DLA runs FP16 and INT8 layers only" in err
    assert "DLA core 1 with GPU fallback: 1 engine layer(s) on the DLA (2 network layer(s) it accepts)" in err
    rows = {line.split()[0]: line.split()[-1] for line in err.splitlines() if line.startswith(("iac ", "{Foreign"))}
    assert rows == {"{ForeignNode[conv1...act1]}": "DLA", "iac": "GPU"}  # the per-layer table's device column
    from ifan_trt.runtime.model_files.model_facts import format_facts, inspect_model

    facts = inspect_model(str(out))
    assert facts["dla"]["core"] == 1
    assert "dla:" in format_facts(facts) and "core=1" in format_facts(facts)


def test_sidecar_dla_field_is_validated(tmp_path):
    from ifan_trt.runtime.model_files.sidecar import dla_core, validate

    base = {"format": "ifan-trt engine sidecar 1", "precision": "fp16", "metadata": {}, "tensorrt_version": "10.3",
            "profiles": [{"input": {"min": [1, 3, 8, 8], "opt": [1, 3, 8, 8], "max": [1, 3, 8, 8]}}]}
    assert dla_core(validate({**base, "dla": {"core": 0, "layers_on_dla": []}}, "s")) == 0
    assert dla_core(validate(base, "s")) is None
    with pytest.raises(IfanError, match="dla.core must be a DLA core number"):
        validate({**base, "dla": {"core": "0"}}, "s")


def test_the_tensorrt_standin_desktop_gpu_has_no_dla(tmp_path, monkeypatch):
    """On the TensorRT stand-in (a desktop GPU: IBuilder.num_DLA_cores is 0) --dla-core is refused."""
    from tests.helpers import fake_tensorrt
    from tests.helpers.fake_cuda import FakeGpu

    fake_tensorrt.install(monkeypatch, "10.3.0.26", FakeGpu())
    onnx_path = tiny_graph(tmp_path / "tiny.onnx")
    with pytest.raises(IfanError, match=r"^--dla-core 0: this device has no DLA \(TensorRT reports 0 DLA cores"):
        fake_tensorrt.build(onnx_path, tmp_path / "e.plan", "--dla-core", "0")
    assert not (tmp_path / "e.plan").exists()
