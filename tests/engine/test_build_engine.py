"""build_engine.py / `ifan build` without a GPU: options, TensorRT detection and refusals, the
graph it picks or prepares, the sidecar (TensorRT replaced by a fake module and stubbed build)."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.build import tiny_graph  # noqa: E402

pytestmark = pytest.mark.usefixtures("command_log")  # what the build logs, on the captured stderr
from tests.helpers.fake_tensorrt import builder_tensorrt
from ifan_trt.cli import build_parser
from ifan_trt.commands import build as build_cmd
from ifan_trt.runtime.tensorrt import build as engine_build
from ifan_trt.runtime.tensorrt.inspect import layer_precisions, summary, unexpected_fp32
from ifan_trt.runtime.model_files.optimization_profiles import parse_profiles
from ifan_trt.errors import IfanError

REPO = Path(__file__).resolve().parents[2]
# a child Python in which `import tensorrt` fails, whatever is installed
NO_TRT = "import sys; sys.modules['tensorrt'] = None; sys.argv[0] = 'build_engine.py'; " \
         "import runpy; runpy.run_path('build_engine.py', run_name='__main__')"


def _child(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-c", NO_TRT, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_help_works_without_tensorrt():
    r = _child("--help")
    assert r.returncode == 0, r.stderr
    for option in ("--onnx", "--precision", "--shapes", "--plugin", "--workspace", "--timing-cache",
                   "--builder-optimization-level", "--version-compatible", "--calib-images", "--iac-split"):
        assert option in r.stdout


def test_build_without_tensorrt_fails_with_one_line(tmp_path):
    onnx_path = tiny_graph(tmp_path / "tiny.onnx")
    r = _child("--onnx", str(onnx_path), "-o", str(tmp_path / "tiny.plan"))
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("ifan build: error: TensorRT is not installed (import of tensorrt halted")
    assert "'ifan-trt[" in lines[0] and lines[0].endswith("; build engines on the target machine")
    assert not (tmp_path / "tiny.plan").exists()


def test_bad_shapes_fail_before_tensorrt_is_needed(tmp_path):
    onnx_path = tiny_graph(tmp_path / "tiny.onnx")
    r = _child("--onnx", str(onnx_path), "-o", str(tmp_path / "t.plan"), "--shapes", "min=1x3x64x64,max=1x3x32x32")
    assert r.returncode == 1
    assert r.stderr.strip() == ("ifan build: error: --shapes 'min=1x3x64x64,max=1x3x32x32': missing opt "
                                "(need min, opt and max)")




TRT10_LAYERS = {"Layers": [
    {"Name": "conv1 + act1", "LayerType": "CaskConvolution",
     "Inputs": [{"Name": "input", "Format/Datatype": "Row major linear FP16 format"}],
     "Outputs": [{"Name": "feat", "Format/Datatype": "Channel major FP16 format where channel % 8 == 0"}]},
    {"Name": "iac", "LayerType": "PluginV3",
     "Inputs": [{"Name": "feat", "Format/Datatype": "Row major linear FP32"}],
     "Outputs": [{"Name": "iac_output", "Format/Datatype": "Row major linear FP32"}]},
    {"Name": "Reformatting CopyNode for Input Tensor 0 to conv2", "LayerType": "Reformat",
     "Inputs": [{"Name": "iac_output", "Format/Datatype": "Row major linear FP32"}],
     "Outputs": [{"Name": "x", "Format/Datatype": "Row major linear FP16 format"}]},
    {"Name": "conv2", "LayerType": "CaskConvolution",
     "Inputs": [{"Name": "x", "Format/Datatype": "Int8 NC/32HW"}],
     "Outputs": [{"Name": "r", "Format/Datatype": "Row major linear FP16 format"}]},
]}
TRT11_LAYERS = {"Layers": [
    {"Name": "conv1", "LayerType": "CaskConvolution",
     "Inputs": [{"Name": "input", "Datatype": "Int8", "Format": "Channel major, channel % 32 == 0"}],
     "Outputs": [{"Name": "a", "Datatype": "Half", "Format": "Row major linear"}]},
    {"Name": "conv2", "LayerType": "CaskConvolution",
     "Inputs": [{"Name": "a", "Datatype": "Float", "Format": "Row major linear"}],
     "Outputs": [{"Name": "r", "Datatype": "Float", "Format": "Row major linear"}]},
]}


def test_inspector_json_of_tensorrt_10_and_11():
    l10 = layer_precisions(json.dumps(TRT10_LAYERS))
    assert [lp.precision for lp in l10] == ["FP16", "FP32", "FP32", "INT8"]
    assert summary(l10) == {"FP16": 1, "FP32": 2, "INT8": 1}
    # the plugin ran FP32 in an FP16 build: reported; the reformat layer is plumbing, not reported
    assert [lp.name for lp in unexpected_fp32(l10, "fp16")] == ["iac"]
    assert unexpected_fp32(l10, "fp32") == []
    l11 = layer_precisions(TRT11_LAYERS)
    assert [lp.precision for lp in l11] == ["INT8", "FP32"]
    assert layer_precisions({"Layers": ["conv1", "conv2"]})[0].precision == "unknown"


def test_uint8_bfloat16_and_fp8_tensors_are_not_read_as_int8_or_fp32():
    """TensorRT names these "UInt8", "BFloat16", "Float8E4M3": "UInt8" contains "Int8" and the other
    two contain "Float", which must not make a uint8 frame's cast an INT8 layer (or BF16/FP8 FP32)."""
    layers = layer_precisions({"Layers": [
        {"Name": "frame cast", "LayerType": "Cast",
         "Inputs": [{"Name": "frames", "Format/Datatype": "Row major linear UInt8 format"}],
         "Outputs": [{"Name": "input", "Format/Datatype": "Row major linear FP16 format"}]},
        {"Name": "conv bf16", "LayerType": "CaskConvolution",
         "Inputs": [{"Name": "input", "Datatype": "BFloat16", "Format": "Row major linear"}]},
        {"Name": "conv fp8", "LayerType": "CaskConvolution",
         "Inputs": [{"Name": "q", "Datatype": "Float8E4M3", "Format": "Row major linear"}]},
    ]})
    assert [lp.precision for lp in layers] == ["FP16", "BF16", "FP8"]
    assert layers[0].inputs == ["UINT8"]


def test_request_checks():
    assert engine_build.check_request((10, 3, 0), "int8-fp16", True, False, 3) == []
    with pytest.raises(IfanError, match=r"^TensorRT 8\.6\.1: strongly typed networks need TensorRT 10\.0"):
        engine_build.check_request((8, 6, 1), "fp16", False, False, None)
    with pytest.raises(IfanError, match="--builder-optimization-level 7: TensorRT 11.1.0 accepts 0 to 5"):
        engine_build.check_request((11, 1, 0), "fp32", False, False, 7)
    assert "newer than" in engine_build.check_request((12, 0, 0), "fp32", False, False, None)[0]
    assert "serialised into the plan" in engine_build.check_request((10, 3, 0), "fp32", True, True, None)[0]
    assert engine_build.parse_version("10.3.0.26") == (10, 3, 0)
    from ifan_trt.sizes import parse_bytes

    assert parse_bytes("512M", "--workspace") == 512 << 20
    assert parse_bytes("4g", "--workspace") == 4 << 30
    assert parse_bytes("1024", "--workspace") == 1 << 30
    with pytest.raises(IfanError, match="--workspace 'lots'"):
        parse_bytes("lots", "--workspace")
    with pytest.raises(IfanError, match="^--workspace 512K: at least 1M$"):
        parse_bytes("512K", "--workspace")


def _args(onnx_path, out, *extra):
    return build_parser().parse_args(["build", "--onnx", str(onnx_path), "-o", str(out), *extra])


def test_old_tensorrt_is_refused(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", builder_tensorrt("8.6.1", strongly_typed=False))
    onnx_path = tiny_graph(tmp_path / "tiny.onnx")
    with pytest.raises(IfanError, match="TensorRT 8.6.1: strongly typed networks need TensorRT 10.0 or newer"):
        build_cmd.run(_args(onnx_path, tmp_path / "e.plan"))


@pytest.fixture
def stubbed_build(monkeypatch):
    """TensorRT 10.3 as far as run() can tell; the build and inspection are recorded stubs."""
    calls = {}
    monkeypatch.setitem(sys.modules, "tensorrt", builder_tensorrt())

    def build_plan(trt, onnx_path, profiles, inputs, workspace, level, version_compatible, plugin_lib, cache,
                   tf32=True):
        import onnx

        calls.update(onnx=Path(onnx_path), profiles=profiles, inputs=inputs, workspace=workspace, level=level,
                     version_compatible=version_compatible, plugin_lib=plugin_lib, cache=cache, tf32=tf32)
        # the IFAN_IAC layers TensorRT's parser meets, by their N
        calls["iac_nodes"] = [onnx.helper.get_attribute_value(a) for n in onnx.load(onnx_path).graph.node
                              if n.op_type == "IFAN_IAC" for a in n.attribute if a.name == "N"]
        return b"PLAN" * 10

    def inspect_plan(trt, plan, version_compatible, embedded_plugin=False):
        calls.update(inspected_embedded=embedded_plugin)
        return layer_precisions(TRT10_LAYERS)

    monkeypatch.setattr(engine_build, "build_plan", build_plan)
    monkeypatch.setattr(engine_build, "inspect_plan", inspect_plan)
    monkeypatch.setattr(engine_build, "gpu_info", lambda: {"name": "Orin (fake)", "compute_capability": "8.7"})
    return calls


@pytest.fixture
def fake_plugin(tmp_path, monkeypatch) -> Path:
    """The plugin library the build loads for plugin graphs: a file standing in for it."""
    import ifan_trt.runtime.tensorrt.plugin_library as plugin_library

    lib = tmp_path / "libifan_iac_plugin_trt10.so"
    lib.write_bytes(b"not really a library")
    monkeypatch.setattr(plugin_library, "load_plugin", lambda path=None: lib)
    return lib


@pytest.fixture(scope="module")
def calib_pics(tmp_path_factory) -> Path:
    import cv2

    pics = tmp_path_factory.mktemp("pics")
    for i in range(2):
        cv2.imwrite(str(pics / f"{i}.png"), (np.random.default_rng(i).random((40, 48, 3)) * 255).astype(np.uint8))
    return pics


def test_sidecar_content(tmp_path, stubbed_build, fake_plugin, capsys):
    onnx_path = tiny_graph(tmp_path / "tiny.onnx", plugin=True)
    lib = fake_plugin
    out = tmp_path / "tiny.plan"
    code = build_cmd.run(_args(onnx_path, out, "--shapes", "min=1x3x64x64,opt=1x3x128x128,max=2x3x256x256",
                                  "--shapes", "min=720x1280,opt=720x1280,max=720x1280", "--workspace", "1G",
                                  "--builder-optimization-level", "4", "--version-compatible",
                                  "--timing-cache", str(tmp_path / "t.cache")))
    assert code == 0
    assert out.read_bytes() == b"PLAN" * 10
    assert stubbed_build["plugin_lib"] == lib and stubbed_build["version_compatible"]
    assert stubbed_build["workspace"] == 1 << 30 and stubbed_build["level"] == 4
    assert [p.max for p in stubbed_build["profiles"]] == [(2, 3, 256, 256), (1, 3, 720, 1280)]
    side = json.loads(Path(f"{out}.json").read_text())
    from ifan_trt.export.graph import sha256_bytes, sha256_file

    assert side["tensorrt_version"] == "10.3.0.26"
    assert side["gpu"] == {"name": "Orin (fake)", "compute_capability": "8.7"}
    assert side["precision"] == "fp32"
    assert side["profiles"][0]["input"] == {"min": [1, 3, 64, 64], "opt": [1, 3, 128, 128], "max": [2, 3, 256, 256]}
    assert side["onnx"]["sha256"] == sha256_file(onnx_path)
    assert side["plugin_library"] == {"path": str(lib), "sha256": sha256_file(lib)}
    assert side["engine_sha256"] == sha256_bytes(b"PLAN" * 10)
    assert side["builder"]["strongly_typed"] and side["builder"]["version_compatible"]
    assert side["builder"]["tf32"] is True and stubbed_build["tf32"] is True  # TF32 unless --no-tf32
    assert stubbed_build["inspected_embedded"]  # the plan embeds the plugin: inspected in a child process
    assert side["metadata"]["ifan.variant"] == "IFAN_tiny" and side["metadata"]["ifan.precision"] == "fp32"
    assert side["layer_precisions"] == {"FP16": 1, "FP32": 2, "INT8": 1}
    assert side["build_seconds"] >= 0 and side["built_at"].endswith("Z")
    # the runtime reads it
    from ifan_trt.runtime.model_files.metadata import info_from_sidecar

    assert info_from_sidecar(out).variant == "IFAN_tiny"
    err = capsys.readouterr().err
    assert "layer precisions: FP16 1, FP32 2, INT8 1" in err


def test_precision_request_prepares_then_reuses_the_graph(tmp_path, stubbed_build, calib_pics, capsys):
    onnx_path = tiny_graph(tmp_path / "tiny.onnx")
    out = tmp_path / "tiny.plan"
    assert build_cmd.run(_args(onnx_path, out, "--precision", "fp16", "--calib-images", str(calib_pics))) == 0
    prepared = tmp_path / "tiny.fp16.onnx"
    assert stubbed_build["onnx"] == prepared and prepared.is_file()
    side = json.loads(Path(f"{out}.json").read_text())
    assert side["precision"] == "fp16" and side["onnx"]["path"] == str(prepared)
    assert side["onnx"]["source"] == str(onnx_path)
    err = capsys.readouterr().err
    assert "FP16 was asked for" not in err and "compute layer(s) run in FP32: iac" in err
    assert build_cmd.run(_args(onnx_path, out, "--precision", "fp16", "--overwrite")) == 0
    assert "using the fp16 graph prepared earlier" in capsys.readouterr().err
    # INT8 needs calibration images; a prepared graph cannot become another precision
    with pytest.raises(IfanError, match="--precision int8: needs --calib-images DIR"):
        build_cmd.run(_args(onnx_path, out, "--precision", "int8", "--overwrite"))
    with pytest.raises(IfanError, match="is a fp16 graph; --precision int8 needs the FP32 export"):
        build_cmd.run(_args(prepared, tmp_path / "x.plan", "--precision", "int8"))


def test_static_graph_and_output_checks(tmp_path, stubbed_build):
    onnx_path = tiny_graph(tmp_path / "static.onnx", static=(64, 64))
    with pytest.raises(IfanError, match="input has a fixed dimension 2 of 64"):
        build_cmd.run(_args(onnx_path, tmp_path / "s.plan"))
    assert build_cmd.run(_args(onnx_path, tmp_path / "s.plan", "--shapes", "min=64x64,opt=64x64,max=64x64")) == 0
    with pytest.raises(IfanError, match="is the input ONNX"):
        build_cmd.run(_args(onnx_path, onnx_path))
    with pytest.raises(IfanError, match="no such folder"):
        build_cmd.run(_args(onnx_path, tmp_path / "nope" / "s.plan"))


def test_ifan_build_is_the_same_command(tmp_path, capsys):
    from ifan_trt.cli import main

    assert main(["build", "--help"]) == 0
    assert "--version-compatible" in capsys.readouterr().out


def test_no_tf32_reaches_the_sidecar(tmp_path, stubbed_build):
    onnx_path = tiny_graph(tmp_path / "tiny.onnx")
    out = tmp_path / "tiny.plan"
    assert build_cmd.run(_args(onnx_path, out, "--no-tf32")) == 0
    assert stubbed_build["tf32"] is False and not stubbed_build["inspected_embedded"]
    assert json.loads(Path(f"{out}.json").read_text())["builder"]["tf32"] is False


@pytest.mark.parametrize("tf32", [True, False])
def test_tf32_reaches_polygraphys_create_config(tmp_path, monkeypatch, tf32):
    """Polygraphy's CreateConfig clears TensorRT's TF32 flag unless tf32=True: the value is always passed."""
    import inspect

    from polygraphy.backend import trt as poly

    assert "tf32" in inspect.signature(poly.CreateConfig.__init__).parameters
    seen = {}

    class CreateConfig:
        def __init__(self, **kwargs):
            seen.update(kwargs)

    monkeypatch.setattr(poly, "CreateConfig", CreateConfig)
    monkeypatch.setattr(poly, "network_from_onnx_path", lambda path, strongly_typed: ("network", strongly_typed))
    monkeypatch.setattr(poly, "engine_bytes_from_network", lambda network, config, save_timing_cache: b"PLAN")
    trt = builder_tensorrt()
    trt.MemoryPoolType = types.SimpleNamespace(WORKSPACE="workspace")
    trt.ProfilingVerbosity = types.SimpleNamespace(DETAILED="detailed")
    profiles = parse_profiles(["min=64x64,opt=64x64,max=64x64"])
    plan = engine_build.build_plan(trt, tmp_path / "m.onnx", profiles, ["input"], 1 << 30, None, False, None, None,
                                   tf32=tf32)
    assert plan == b"PLAN" and seen["tf32"] is tf32 and seen["profiling_verbosity"] == "detailed"


FAKE_TRT_CHILD = """
import json, sys
__version__ = "10.3.0"
class Logger:
    WARNING = 2
    def __init__(self, level): pass
class LayerInformationFormat:
    JSON = "json"
class _Inspector:
    def get_engine_information(self, fmt):
        return json.dumps({"Layers": [{"Name": "iac", "LayerType": "PluginV3",
                                       "Inputs": [{"Name": "x", "Format/Datatype": "Row major linear FP16 format"}]}]})
class _Engine:
    def create_engine_inspector(self):
        return _Inspector()
class Runtime:
    engine_host_code_allowed = False
    def __init__(self, logger): pass
    def deserialize_cuda_engine(self, plan):
        if plan != b"VC PLAN" or not self.engine_host_code_allowed:
            print("[TRT] [E] IFAN_IAC: creator already registered", file=sys.stderr)
            return None
        return _Engine()
"""


def test_version_compatible_plan_with_the_plugin_is_inspected_in_a_child(tmp_path, monkeypatch):
    """The child is a fresh Python (here with a stand-in tensorrt on its path); this process's
    TensorRT, which has registered IFAN_IAC, never deserialises the plan."""
    (tmp_path / "tensorrt.py").write_text(FAKE_TRT_CHILD)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    here = types.SimpleNamespace(Runtime=lambda logger: pytest.fail("deserialised in the build process"))
    layers = engine_build.inspect_plan(here, b"VC PLAN", version_compatible=True, embedded_plugin=True)
    assert [(lp.name, lp.precision) for lp in layers] == [("iac", "FP16")]
    with pytest.raises(IfanError, match=r"does not deserialise in a fresh process: \[TRT\] \[E\] IFAN_IAC: creator"):
        engine_build.inspect_plan(here, b"OTHER", version_compatible=True, embedded_plugin=True)


# ---------------------------------------------------------------- the IAC form (--iac-split)
# The tiny plugin graph at 64x64 (no downsampling, c=8, N=2): the one-node peak is at the IAC
# with input 3 + features 8 + F 64 + output 8 channels; split, iteration 0 holds 3 + 8 + 32 + 8.
SHAPES_64 = ("--shapes", "min=32x32,opt=64x64,max=64x64")
ONE_NODE_PEAK, SPLIT_PEAK = 83 * 64 * 64 * 4, 51 * 64 * 64 * 4
ON_ERROR = ("; the build splits one IFAN_IAC plugin node of N > 1 iterations fed by a 1x1 conv "
            "(`ifan export --iac plugin`, FP32 or FP16)")


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def test_auto_builds_the_split_form_where_it_lowers_the_peak_and_off_keeps_one_node(tmp_path, stubbed_build,
                                                                                   fake_plugin, capsys):
    from ifan_trt.runtime.model_files.sidecar import read_sidecar

    onnx_path = tiny_graph(tmp_path / "tiny2.onnx", plugin=True, n_iters=2)
    out = tmp_path / "auto.plan"
    assert build_cmd.run(_args(onnx_path, out, *SHAPES_64)) == 0
    prepared = tmp_path / "tiny2.iac-split.fp32.onnx"
    assert stubbed_build["onnx"] == prepared and stubbed_build["iac_nodes"] == [1, 1]
    err = capsys.readouterr().err.splitlines()
    assert f"IAC form: split (peak {_mb(SPLIT_PEAK)}, one-node {_mb(ONE_NODE_PEAK)})" in err
    assert any(line.startswith(f"peak live activations at 1x3x64x64: {_mb(SPLIT_PEAK)} at node iac/0 (IFAN_IAC)")
               for line in err)
    side = read_sidecar(out)
    assert side["iac_split"] is True and side["metadata"]["ifan.iac_split"] == "true"
    assert side["peak_live_bytes"] == {"input_shape": [1, 3, 64, 64], "activation_dtype": "as typed",
                                       "one_node": ONE_NODE_PEAK, "split": SPLIT_PEAK}
    assert side["onnx"] == {"path": str(prepared), "sha256": side["onnx"]["sha256"], "source": str(onnx_path)}

    off = tmp_path / "off.plan"
    assert build_cmd.run(_args(onnx_path, off, *SHAPES_64, "--iac-split", "off")) == 0
    assert stubbed_build["onnx"] == onnx_path and stubbed_build["iac_nodes"] == [2]
    assert (f"IAC form: one-node (peak {_mb(ONE_NODE_PEAK)}, split {_mb(SPLIT_PEAK)}, --iac-split off)"
            in capsys.readouterr().err.splitlines())
    side = read_sidecar(off)
    assert side["iac_split"] is False and side["peak_live_bytes"]["one_node"] == ONE_NODE_PEAK

    from ifan_trt.cli import main

    assert main(["inspect", str(out)]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert f"{'iac_split:':<24}True" in shown
    assert (f"{'peak_live_bytes:':<24}input_shape=[1, 3, 64, 64], activation_dtype=as typed, "
            f"one_node={ONE_NODE_PEAK}, split={SPLIT_PEAK}") in shown


def test_graphs_the_build_does_not_split(tmp_path, stubbed_build, fake_plugin, capsys):
    from ifan_trt.export.iac_split import split_plugin_graph
    from ifan_trt.runtime.model_files.sidecar import read_sidecar
    import onnx

    standard = tiny_graph(tmp_path / "standard.onnx")
    with pytest.raises(IfanError) as info:
        build_cmd.run(_args(standard, tmp_path / "s.plan", *SHAPES_64, "--iac-split", "on"))
    assert str(info.value) == (f"--iac-split on: {standard}: no IFAN_IAC plugin node (its IAC is standard ONNX "
                               f"ops){ON_ERROR}")
    single = tiny_graph(tmp_path / "single.onnx", plugin=True)
    with pytest.raises(IfanError) as info:
        build_cmd.run(_args(single, tmp_path / "n1.plan", *SHAPES_64, "--iac-split", "on"))
    assert str(info.value) == f"--iac-split on: {single}: the IFAN_IAC node has N=1: nothing to split{ON_ERROR}"
    assert not list(tmp_path.glob("*.plan*"))
    assert build_cmd.run(_args(single, tmp_path / "n1.plan", *SHAPES_64)) == 0
    assert stubbed_build["iac_nodes"] == [1] and stubbed_build["onnx"] == single
    assert any(line.startswith("IAC form: one-node (peak ") and line.endswith(
        " MB, not split: the IFAN_IAC node has N=1: nothing to split)") for line in capsys.readouterr().err.splitlines())

    exported = tmp_path / "exported_split.onnx"
    onnx.save(split_plugin_graph(onnx.load(tiny_graph(tmp_path / "tiny2.onnx", plugin=True, n_iters=2))), exported)
    with pytest.raises(IfanError) as info:
        build_cmd.run(_args(exported, tmp_path / "x.plan", *SHAPES_64, "--iac-split", "on"))
    assert str(info.value) == f"--iac-split on: {exported}: already in the split IAC form{ON_ERROR}"
    out = tmp_path / "x.plan"
    assert build_cmd.run(_args(exported, out, *SHAPES_64)) == 0
    assert stubbed_build["onnx"] == exported and stubbed_build["iac_nodes"] == [1, 1]
    assert f"IAC form: split, as exported (peak {_mb(SPLIT_PEAK)})" in capsys.readouterr().err.splitlines()
    side = read_sidecar(out)
    assert side["iac_split"] is True and side["peak_live_bytes"]["one_node"] is None
    assert side["peak_live_bytes"]["split"] == SPLIT_PEAK


@pytest.mark.parametrize("precision", ["fp16", "int8", "int8-fp16"])
def test_each_precision_is_prepared_from_the_split_graph(tmp_path, stubbed_build, fake_plugin, calib_pics, precision,
                                                         capsys):
    """The split happens before the precision step: FP16 measurement, calibration and the Q/DQ
    transfer all work on the split graph's nodes (the transfer fails on any name it cannot match)."""
    import onnx

    from ifan_trt.calib.qdq import qdq_problems
    from ifan_trt.export.graph import graph_precision, read_metadata
    from ifan_trt.runtime.model_files.sidecar import read_sidecar

    onnx_path = tiny_graph(tmp_path / "tiny2.onnx", plugin=True, n_iters=2)
    out = tmp_path / f"{precision}.plan"
    assert build_cmd.run(_args(onnx_path, out, *SHAPES_64, "--precision", precision,
                               "--calib-images", str(calib_pics))) == 0
    prepared = tmp_path / f"tiny2.iac-split.{precision}.onnx"
    assert stubbed_build["onnx"] == prepared and stubbed_build["iac_nodes"] == [1, 1]
    network = onnx.load(prepared)
    assert graph_precision(network) == precision and read_metadata(network)["ifan.iac_split"] == "true"
    if precision != "fp16":  # each iteration's filter conv has its own per-channel weight Q/DQ
        quantized = {n.input[0] for n in network.graph.node if n.op_type == "QuantizeLinear"}
        assert {"iac_filters_0/W", "iac_filters_1/W"} <= quantized and qdq_problems(network) == []
    half = precision != "int8"  # sized as the FP16 engine: every activation counted in FP16
    one, split = (ONE_NODE_PEAK // 2, SPLIT_PEAK // 2) if half else (ONE_NODE_PEAK, SPLIT_PEAK)
    assert f"IAC form: split (peak {_mb(split)}, one-node {_mb(one)})" in capsys.readouterr().err.splitlines()
    side = read_sidecar(out)
    assert side["precision"] == precision and side["iac_split"] is True
    assert side["peak_live_bytes"] == {"input_shape": [1, 3, 64, 64], "one_node": one, "split": split,
                                       "activation_dtype": "float16" if half else "as typed"}
    # the one-node graph of that precision is its own file: neither form is reused for the other
    assert build_cmd.run(_args(onnx_path, tmp_path / "off.plan", *SHAPES_64, "--precision", precision,
                               "--calib-images", str(calib_pics), "--iac-split", "off")) == 0
    assert stubbed_build["onnx"] == tmp_path / f"tiny2.{precision}.onnx" and stubbed_build["iac_nodes"] == [2]


@pytest.fixture(scope="module")
def small_plugin_export(models) -> Path:
    """Exported before any test puts the fake tensorrt module in place (torch.export trips on it)."""
    return models("plugin")


def test_the_split_graph_the_build_uses_equals_the_one_node_graph_in_ort(small_plugin_export, tmp_path,
                                                                         stubbed_build, fake_plugin):
    from ifan_trt.export.verify import synthetic_images
    from tests.helpers.export import assert_same_split, ort_run

    one_node = small_plugin_export
    assert build_cmd.run(_args(one_node, tmp_path / "split.plan", "--shapes", "min=32x48,opt=32x48,max=64x96",
                               "--iac-split", "on")) == 0
    assert stubbed_build["iac_nodes"] == [1, 1]
    feeds = {"input": synthetic_images(2, 32, 48, 3)}
    out_split, iac_split = ort_run(stubbed_build["onnx"], feeds)
    out_one, iac_one = ort_run(one_node, feeds)
    assert np.abs(iac_one).max() > 0.1  # the IAC output is not trivially zero
    assert_same_split(iac_split, iac_one)
    assert_same_split(out_split, out_one)


def test_sidecar_iac_fields_are_validated(tmp_path):
    from ifan_trt.runtime.model_files.sidecar import Sidecar, read_sidecar, sidecar_bytes, validate

    peaks = {"input_shape": [1, 3, 64, 64], "activation_dtype": "float16", "one_node": 10, "split": None}
    data = Sidecar(engine=tmp_path / "e.plan", precision="fp16", inputs=["input"], metadata={},
                        profiles=[{"input": {k: [1, 3, 64, 64] for k in ("min", "opt", "max")}}],
                        tensorrt_version="10.3.0", iac_split=True, peak_live_bytes=peaks).as_dict()
    (tmp_path / "e.plan.json").write_bytes(sidecar_bytes(data))
    back = read_sidecar(tmp_path / "e.plan")
    assert back["iac_split"] is True and back["peak_live_bytes"] == peaks
    older = {k: v for k, v in data.items() if k not in ("iac_split", "peak_live_bytes")}
    assert validate(older, "old.json") == older  # sidecars written before the build chose the form
    for field, value, why in (("iac_split", "yes", "iac_split must be true or false, got 'yes'"),
                              ("peak_live_bytes", {"split": -5}, "peak_live_bytes.split must be a byte count "
                                                                 "or null, got -5"),
                              ("peak_live_bytes", [1], "peak_live_bytes must be an object or null")):
        with pytest.raises(IfanError) as info:
            validate({**data, field: value}, "e.plan.json")
        assert str(info.value) == f"e.plan.json: {why}; rebuild the engine with `ifan build` (it writes the sidecar)"
