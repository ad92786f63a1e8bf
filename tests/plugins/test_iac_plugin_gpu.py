"""The IFAN_IAC plugin in real TensorRT engines on a GPU, against the PyTorch reference.

Skipped (with the reason) without TensorRT, torch with CUDA, a GPU, or the built plugin library
(cmake -S . -B build && cmake --build build, or IFAN_TRT_PLUGIN=<library>)."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.gpu

from tests.helpers.gpu import require_tensorrt_gpu, require_torch_cuda  # noqa: E402

trt = require_tensorrt_gpu(binding=False)
torch = require_torch_cuda()

from ifan_trt.errors import IfanError  # noqa: E402
from ifan_trt.iac import iac  # noqa: E402
from bench.iac_network import FEATURES, FILTERS, OUTPUT, IacSpec, build_iac_engine  # noqa: E402
from ifan_trt.runtime.tensorrt.plugin_library import load_plugin  # noqa: E402

try:
    PLUGIN_PATH = load_plugin()
except IfanError as exc:
    pytest.skip(f"IFAN_IAC plugin library not available: {exc}", allow_module_level=True)

TOL = {"fp32": 1e-5, "fp16": 1e-2}
TORCH_TYPE = {"fp32": torch.float32, "fp16": torch.float16}
MODES = {0: "official", 1: "corrected"}
LAYOUTS = {0: "full", 1: "compact"}
LOGGER = trt.Logger(trt.Logger.WARNING)


def make_inputs(spec: IacSpec, shape, dtype: str, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    b, c, h, w = shape
    x = torch.randn(shape, generator=g)
    f = torch.randn((b, spec.filter_channels(c), h, w), generator=g) * (1.2 / spec.k)
    # round to the engine's type first: the reference computes in FP32 on the same values
    return x.to(TORCH_TYPE[dtype]).cuda(), f.to(TORCH_TYPE[dtype]).cuda()


def reference(x, f, spec: IacSpec):
    with torch.no_grad():
        return iac(x.float().cpu(), f.float().cpu(), spec.n_iters, spec.k, MODES[spec.mode],
                   LAYOUTS[spec.layout], spec.slope)


def run_engine(engine, x, f):
    context = engine.create_execution_context()
    assert context.set_input_shape(FEATURES, tuple(x.shape))
    assert context.set_input_shape(FILTERS, tuple(f.shape))
    out = torch.empty_like(x)
    for name, tensor in ((FEATURES, x), (FILTERS, f), (OUTPUT, out)):
        assert context.set_tensor_address(name, tensor.data_ptr())
    stream = torch.cuda.Stream()
    assert context.execute_async_v3(stream.cuda_stream), "enqueue failed"
    stream.synchronize()
    return out


def deserialize(serialized: bytes):
    engine = trt.Runtime(LOGGER).deserialize_cuda_engine(serialized)
    assert engine is not None, "deserialisation failed (createPlugin in the runtime phase?)"
    return engine


SPECS = [IacSpec(3, 3, 0, 0), IacSpec(2, 3, 0, 1), IacSpec(3, 3, 1, 0), IacSpec(2, 5, 1, 0), IacSpec(1, 7, 0, 1),
         IacSpec(4, 1, 0, 0, 0.2)]
SHAPES = [(1, 8, 16, 24), (2, 4, 9, 13), (1, 3, 1, 1), (1, 4, 3, 2), (1, 2, 11, 300)]


@pytest.mark.parametrize("dtype", ["fp32", "fp16"])
@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_one_node_engine_matches_reference(dtype, spec):
    """One engine with dynamic batch, height and width, run at several shapes."""
    c = 4
    shapes = [(b, c, h, w) for b, _, h, w in SHAPES]
    lo = (1, c, 1, 1)
    hi = (2, c, 16, 300)
    engine = deserialize(build_iac_engine(trt, LOGGER, "plugin", dtype, spec, (1, c, 16, 24), hi, lo))
    for shape in shapes:
        x, f = make_inputs(spec, shape, dtype)
        got = run_engine(engine, x, f).float().cpu()
        np.testing.assert_allclose(got.numpy(), reference(x, f, spec).numpy(), rtol=TOL[dtype], atol=TOL[dtype],
                                   err_msg=f"{dtype} {spec} {shape}")


@pytest.mark.parametrize("dtype", ["fp32", "fp16"])
def test_720p_size(dtype):
    """The real feature size of a 1280x720 image (c=128, 90x160), N=4 to keep it quick."""
    spec = IacSpec(4, 3, 0, 1)
    shape = (1, 128, 90, 160)
    engine = deserialize(build_iac_engine(trt, LOGGER, "plugin", dtype, spec, shape))
    x, f = make_inputs(spec, shape, dtype)
    got = run_engine(engine, x, f).float().cpu()
    np.testing.assert_allclose(got.numpy(), reference(x, f, spec).numpy(), rtol=TOL[dtype], atol=TOL[dtype])


def test_serialise_deserialise_round_trip(tmp_path):
    """The plan on disk, read back by a new runtime: createPlugin(kRUNTIME) from the serialised
    fields must rebuild the same plugin (same output, bit for bit)."""
    spec = IacSpec(3, 5, 1, 0, 0.15)
    shape = (2, 4, 10, 12)
    serialized = build_iac_engine(trt, LOGGER, "plugin", "fp32", spec, shape)
    path = tmp_path / "iac.plan"
    path.write_bytes(serialized)
    first = deserialize(serialized)
    second = deserialize(path.read_bytes())
    x, f = make_inputs(spec, shape, "fp32")
    a, b = run_engine(first, x, f), run_engine(second, x, f)
    assert torch.equal(a, b)
    np.testing.assert_allclose(a.cpu().numpy(), reference(x, f, spec).numpy(), rtol=1e-5, atol=1e-5)


def test_bad_filter_channels_fail_the_build():
    builder = trt.Builder(LOGGER)
    from bench.iac_network import add_plugin_iac, strongly_typed_network

    network = strongly_typed_network(trt, builder)
    x = network.add_input(FEATURES, trt.float32, (1, 4, 8, 8))
    f = network.add_input(FILTERS, trt.float32, (1, 4 * 7 * 2 + 1, 8, 8))  # not N*c*(2k+1)
    out = add_plugin_iac(trt, network, x, f, IacSpec(2, 3))
    network.mark_output(out)
    assert builder.build_serialized_network(network, builder.create_builder_config()) is None


def test_full_model_engine_matches_pytorch(tmp_path):
    """A small IFAN (ch=8, N=2) exported with the plugin node, parsed and built by TensorRT."""
    try:
        from ifan_trt.export import export_onnx
    except ImportError as exc:
        pytest.skip(f"ifan_trt.export is not available: {exc}")
    from ifan_trt.model import IFAN, IFANConfig

    torch.manual_seed(0)
    model = IFAN(IFANConfig(ch=8, n_iters=2))
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.06)  # a random model whose output depends visibly on every layer
    model.eval()
    onnx_path = tmp_path / "ifan.onnx"
    export_onnx(model, onnx_path, iac_form="plugin", shape=(64, 96), batch=1)
    builder = trt.Builder(LOGGER)
    from bench.iac_network import strongly_typed_network

    network = strongly_typed_network(trt, builder)
    parser = trt.OnnxParser(network, LOGGER)
    assert parser.parse_from_file(str(onnx_path)), [str(parser.get_error(i)) for i in range(parser.num_errors)]
    config = builder.create_builder_config()
    if hasattr(trt.BuilderFlag, "TF32"):
        config.clear_flag(trt.BuilderFlag.TF32)
    engine = deserialize(builder.build_serialized_network(network, config))
    image = torch.rand(1, 3, 64, 96, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model(image)
    context = engine.create_execution_context()
    inp = image.cuda()
    out = torch.empty_like(inp)
    context.set_tensor_address("input", inp.data_ptr())
    context.set_tensor_address("output", out.data_ptr())
    stream = torch.cuda.Stream()
    assert context.execute_async_v3(stream.cuda_stream)
    stream.synchronize()
    np.testing.assert_allclose(out.cpu().numpy(), expected.numpy(), rtol=1e-4, atol=1e-4)
