"""The pipelined TensorRT executor and the zero-copy memory path, against the TensorRT and CUDA
stand-ins in simulated-time mode: device work is deferred until the host waits for it (so a read
before the wait, or a buffer refilled while in use, gives wrong bytes), and each copy and kernel
takes a given simulated time on its engine, so the overlap is computed, not measured."""

from __future__ import annotations

import numpy as np
import pytest

from ifan_trt.errors import BackendError, IfanError
from ifan_trt.export.ort_plugin import ort_session
from ifan_trt.runtime.executors.backends import run_summary
from ifan_trt.runtime.images.streaming import SerialPipeline, open_pipeline
from ifan_trt.runtime.tensorrt.executor import TrtExecutor
from tests.helpers import fake_tensorrt
from tests.helpers.build import tiny_graph
from tests.helpers.fake_cuda import FakeGpu, SimulatedTime

FP32_TOL = 1e-5
DYNAMIC = ("--shapes", "min=1x3x8x8,opt=1x3x32x32,max=2x3x64x64")
BINDINGS = ("cuda-python", "pycuda")


@pytest.fixture
def standin(tmp_path, monkeypatch):
    """make(binding, **FakeGpu options) -> (engine path, GPU stand-in, ORT session of the engine's graph)."""
    def make(binding="cuda-python", io="float", **gpu_options):
        """io="uint8": the graph wrapped as `ifan export --io uint8` wraps it (BGR frames in and out)."""
        from ifan_trt.runtime.model_files.sidecar import read_sidecar

        gpu_options.setdefault("simulated", SimulatedTime(h2d_ms=1.0, compute_ms=4.0, d2h_ms=1.0))
        trt = fake_tensorrt.install(monkeypatch, "10.3.0.26", FakeGpu(**gpu_options), bindings=(binding,))
        monkeypatch.setenv("IFAN_TRT_PLUGIN", str(fake_tensorrt.write_plugin_library(tmp_path, 10)))
        onnx_path = tiny_graph(tmp_path / "tiny.onnx", plugin=True, n_iters=2)
        if io == "uint8":
            import onnx

            from ifan_trt.export.uint8_io import wrap

            onnx.save(wrap(onnx.load(onnx_path), "bgr"), tmp_path / "tiny_u8.onnx")
            onnx_path = tmp_path / "tiny_u8.onnx"
        engine = fake_tensorrt.build(onnx_path, tmp_path / f"tiny_{io}.plan", "--iac-split", "off", *DYNAMIC)
        return engine, trt._gpu, ort_session(read_sidecar(engine)["onnx"]["path"])

    return make


def _frames(n, shapes=((1, 3, 16, 24),)):
    rng = np.random.default_rng(7)
    return [rng.random(shapes[i % len(shapes)]).astype(np.float32) for i in range(n)]


@pytest.mark.parametrize("binding", BINDINGS)
@pytest.mark.parametrize("depth", [2, 3])
def test_pipelined_outputs_equal_the_serial_executor_in_order(standin, binding, depth):
    engine, gpu, ort = standin(binding)
    frames = _frames(7, shapes=((1, 3, 16, 24), (1, 3, 16, 24), (2, 3, 32, 16)))  # shape changes mid-stream
    with TrtExecutor(engine, cuda=binding) as serial:
        expected = [serial.run(x) for x in frames]
    with TrtExecutor(engine, cuda=binding) as ex, ex.pipeline(depth) as pipe:
        got, tags = [], []
        for i, x in enumerate(frames):
            if pipe.full:
                tag, out = pipe.collect()
                tags.append(tag)
                got.append(out)
            pipe.submit(x, tag=i)
            assert pipe.in_flight <= depth
        while pipe.in_flight:
            tag, out = pipe.collect()
            tags.append(tag)
            got.append(out)
    assert tags == list(range(len(frames)))
    for x, want, out in zip(frames, expected, got):
        assert out.shape == want.shape
        assert np.array_equal(out, want)
        assert np.abs(out - ort.run(None, {"input": x})[0]).max() <= FP32_TOL
    assert gpu.live() == {}


def _fps(gpu, frames, host_ms, step) -> float:
    """Frames per second of simulated time, with host_ms of host work before each frame."""
    start = gpu.host_ms
    step(frames, host_ms)
    return len(frames) / (gpu.host_ms - start) * 1e3


def test_pipelined_reaches_1_8x_the_serial_frame_rate_when_device_time_equals_host_time(standin):
    sim = SimulatedTime(h2d_ms=1.0, compute_ms=4.0, d2h_ms=1.0)
    host_ms = sim.h2d_ms + sim.compute_ms + sim.d2h_ms  # simulated device time == host time per frame
    engine, gpu, _ = standin(simulated=sim)
    frames = _frames(40)
    with TrtExecutor(engine) as ex:
        def serial(xs, h):
            for x in xs:
                gpu.spend_host(h)
                ex.run(x)

        def pipelined(xs, h):
            with ex.pipeline(3) as pipe:
                for x in xs:
                    gpu.spend_host(h)
                    if pipe.full:
                        pipe.collect()
                    pipe.submit(x)
                while pipe.in_flight:
                    pipe.collect()

        serial_fps, pipelined_fps = _fps(gpu, frames, host_ms, serial), _fps(gpu, frames, host_ms, pipelined)
        assert serial_fps == pytest.approx(1e3 / (2 * host_ms))  # host, then device, frame after frame
        assert pipelined_fps >= 1.8 * serial_fps
        times = ex.pipeline(2)
        times.submit(frames[0])
        times.collect()
        t = times.last_times
        assert (t.h2d, t.compute, t.d2h) == (1.0, 4.0, 1.0)  # the frame's own events, in simulated ms
        times.close()


def test_pipeline_of_one_frame_in_flight_gains_nothing(standin):
    """The gain comes from overlap, not from the pipeline code: depth 1 runs as fast as serial."""
    sim = SimulatedTime(h2d_ms=1.0, compute_ms=4.0, d2h_ms=1.0)
    engine, gpu, _ = standin(simulated=sim)
    with TrtExecutor(engine) as ex:
        def one(xs, h):
            with ex.pipeline(1) as pipe:
                for x in xs:
                    gpu.spend_host(h)
                    pipe.submit(x)
                    pipe.collect()

        assert _fps(gpu, _frames(10), 6.0, one) == pytest.approx(1e3 / 12.0)


@pytest.mark.parametrize("binding", BINDINGS)
def test_streams_events_and_buffers_are_counted_and_released(standin, binding):
    engine, gpu, _ = standin(binding)
    ex = TrtExecutor(engine, cuda=binding)
    alone = gpu.live()
    assert alone == {"device": 2, "host": 2, "stream": 1, "event": 4}
    pipe = ex.pipeline(3)
    # per slot: an input and an output buffer, a stream, 4 events; one activation block for all slots
    assert gpu.live() == {"device": 2 + 3 * 2 + 1, "host": 2 + 3 * 2, "stream": 1 + 3, "event": 4 + 3 * 4}
    for x in _frames(2):
        pipe.submit(x)  # closed with frames in flight: they finish first
    pipe.close()
    assert gpu.live() == alone
    ex.pipeline(2).submit(_frames(1)[0])  # left open: the executor closes it
    ex.close()
    assert gpu.live() == {}


def test_slots_share_one_activation_block_instead_of_one_per_context(standin):
    """A context made the default way (kSTATIC) holds the engine's device memory size of its own:
    depth such contexts would hold depth blocks. The pipeline's contexts are kUSER_MANAGED and run
    in one block of that size, and the stand-in finds no execution using it while another may."""
    engine, gpu, _ = standin()
    with TrtExecutor(engine) as ex:
        size = ex.engine.device_memory_size_v2
        assert size == 16 * 2 * 3 * 64 * 64 * 4  # the stand-in's figure: 16 bytes per byte of the largest input
        assert gpu.activation_bytes() == size  # the executor's own (serial) context
        per_context = [ex.engine.create_execution_context() for _ in range(3)]
        assert gpu.activation_bytes() == 4 * size  # what a context per frame in flight would cost
        del per_context
        assert gpu.activation_bytes() == size
        before = {p: a.buffer.nbytes for p, a in gpu.allocations.items() if a.kind == "device"}
        with ex.pipeline(3) as pipe:
            added = sorted(a.buffer.nbytes for p, a in gpu.allocations.items() if a.kind == "device" and p not in before)
            assert gpu.activation_bytes() == size  # TensorRT holds nothing more for the slots' contexts
            assert added.count(size) == 1 and len(added) == 1 + 3 * 2  # one block, and the buffer sets
            assert pipe.memory() == {"memory_path": "copy", "frames_in_flight": 3, "activation_bytes": size,
                                     "activation_shared_by_slots": True,
                                     "io_bytes_per_slot": 2 * (2 * 3 * 64 * 64 * 4)}
            list(pipe.map(_frames(9, shapes=((1, 3, 16, 24), (2, 3, 32, 16)))))
    assert gpu.unordered_block_uses == []


def test_sharing_the_block_rests_on_the_computes_waiting_for_each_other(standin, monkeypatch):
    """Without the wait for the previous frame's compute, two contexts would run in the shared
    block at once: the stand-in finds it (so the test above would catch a pipeline that lost it)."""
    from ifan_trt.runtime.tensorrt.cuda import CudaPython

    engine, gpu, _ = standin()
    monkeypatch.setattr(CudaPython, "wait_event", lambda self, event, stream=None: None)
    with TrtExecutor(engine) as ex, ex.pipeline(2) as pipe:
        list(pipe.map(_frames(4)))
    assert gpu.unordered_block_uses


def test_standin_refuses_what_tensorrt_refuses_of_user_managed_memory(standin):
    """No block, a block below the active profile's size, host memory as the block: enqueueV3
    fails (False, and TensorRT's error in its log); two contexts in one block without an order
    between their executions are found."""
    engine, gpu, _ = standin()
    import tensorrt as trt

    with TrtExecutor(engine) as ex:
        user = trt.ExecutionContextAllocationStrategy.USER_MANAGED
        x = np.zeros((1, 3, 16, 16), np.float32)
        out = gpu.allocate("device", 1 * 3 * 16 * 16 * 4).ptr
        inp = gpu.allocate("device", x.nbytes).ptr
        block = gpu.allocate("device", ex.engine.device_memory_size_v2).ptr
        small = gpu.allocate("device", 256).ptr
        host = gpu.allocate("host", ex.engine.device_memory_size_v2).ptr
        streams = [gpu.create_stream(), gpu.create_stream()]
        with pytest.raises(TypeError, match="incompatible function arguments"):
            ex.engine.create_execution_context(2)

        def context(memory=None, size=0):
            c = ex.engine.create_execution_context(user)
            if memory is not None:
                c.set_device_memory(memory, size)
            c.set_input_shape("input", x.shape)
            c.set_tensor_address("input", inp)
            c.set_tensor_address("output", out)
            return c

        assert context().execute_async_v3(streams[0].handle) is False
        assert context(small, 256).execute_async_v3(streams[0].handle) is False
        assert context(host, ex.engine.device_memory_size_v2).execute_async_v3(streams[0].handle) is False
        assert gpu.unordered_block_uses == []
        size = ex.engine.device_memory_size_v2
        a, b = context(block, size), context(block, size)
        assert a.execute_async_v3(streams[0].handle) is True
        assert b.execute_async_v3(streams[1].handle) is True  # nothing orders b after a: undefined in TensorRT
        assert len(gpu.unordered_block_uses) == 1
        gpu.drain_all()
        for ptr in (out, inp, block, small):
            gpu.free("device", ptr, "cudaFree")
        gpu.free("host", host, "cudaFreeHost")
        for stream in streams:
            del gpu.streams[stream.handle]


def test_pipeline_refuses_misuse_in_one_line(standin):
    engine, _, _ = standin()
    with TrtExecutor(engine) as ex:
        with pytest.raises(IfanError, match=r"depth=0: frames in flight must be an integer from 1 to 8"):
            ex.pipeline(0)
        with ex.pipeline(2) as pipe:
            with pytest.raises(IfanError, match="no frame in flight: submit\\(\\) one first"):
                pipe.collect()
            pipe.submit(_frames(1)[0])
            pipe.submit(_frames(1)[0])
            with pytest.raises(IfanError, match="2 frames are already in flight: collect\\(\\) one first"):
                pipe.submit(_frames(1)[0])


def test_tensorrt_failures_in_the_pipeline_leave_as_backend_errors(standin, monkeypatch):
    """TensorRT reports a failed enqueue or context creation by returning False or None (the
    stand-in as TensorRT): the pipeline's calls raise BackendError naming the call, never a bare
    RuntimeError, and a pipeline that could not open releases what it had."""
    engine, gpu, _ = standin()
    with TrtExecutor(engine) as ex:
        alone = gpu.live()
        with ex.pipeline(2) as pipe:
            monkeypatch.setattr(pipe._slots[0].context, "execute_async_v3", lambda stream: False)
            with pytest.raises(BackendError, match=r"^tensorrt error: TensorRT: execute_async_v3 failed"):
                pipe.submit(_frames(1)[0])
        made = []
        real = ex.engine.create_execution_context

        def second_fails(*strategy):
            made.append(1)
            return real(*strategy) if len(made) < 2 else None

        monkeypatch.setattr(ex.engine, "create_execution_context", second_fails)
        with pytest.raises(BackendError, match=r"^tensorrt error: TensorRT: creating an execution context failed"):
            ex.pipeline(2)
        assert gpu.live() == alone


@pytest.mark.parametrize("binding", BINDINGS)
def test_zero_copy_on_an_integrated_gpu_moves_no_bytes(standin, binding):
    engine, gpu, ort = standin(binding, integrated=True)
    frames = _frames(4)
    with TrtExecutor(engine, cuda=binding) as ex:
        assert ex.memory_path == "zero-copy"
        assert ex.describe() == f"tensorrt fp32 ({binding}, zero-copy)"
        assert f"on tensorrt fp32 ({binding}, zero-copy)" in run_summary(ex)  # `ifan deblur`'s run line
        assert gpu.live() == {"host": 2, "stream": 1, "event": 4}  # mapped host memory only, no device buffers
        serial = [ex.run(x) for x in frames]
        with ex.pipeline(2) as pipe:
            piped = list(pipe.map(frames))
    assert gpu.copies == {"h2d": 0, "d2h": 0, "d2d": 0, "h2h": 0}
    assert gpu.kernels == 2 * len(frames)
    for x, a, b in zip(frames, serial, piped):
        want = ort.run(None, {"input": x})[0]
        assert np.abs(a - want).max() <= FP32_TOL and np.array_equal(a, b)
    assert gpu.live() == {}


@pytest.mark.parametrize("binding", BINDINGS)
def test_discrete_gpu_copies_each_frame_in_and_out(standin, binding):
    engine, gpu, _ = standin(binding, integrated=False)
    with TrtExecutor(engine, cuda=binding) as ex:
        assert ex.memory_path == "copy"
        for x in _frames(3):
            ex.run(x)
        with ex.pipeline(2) as pipe:
            list(pipe.map(_frames(3)))
    assert (gpu.copies["h2d"], gpu.copies["d2h"]) == (6, 6)


def test_zero_copy_can_be_asked_for_on_a_discrete_gpu_and_copy_on_an_integrated_one(standin):
    engine, gpu, ort = standin(integrated=False)
    x = _frames(1)[0]
    with TrtExecutor(engine, memory="zero-copy") as ex:
        assert np.abs(ex.run(x) - ort.run(None, {"input": x})[0]).max() <= FP32_TOL
    assert gpu.copies["h2d"] == 0
    with pytest.raises(ValueError, match="memory='mapped': choose auto, copy, zero-copy"):
        TrtExecutor(engine, memory="mapped")


def test_serial_adapter_for_cpu_backends_keeps_order():
    from tests.helpers.runtime import FakeExecutor

    ex = FakeExecutor(fn=lambda x: 1 - x)
    pipe = open_pipeline(ex, 3)
    assert isinstance(pipe, SerialPipeline) and pipe.depth == 1
    xs = _frames(3, shapes=((1, 3, 8, 8),))
    assert all(np.array_equal(o, 1 - x) for o, x in zip(pipe.map(xs), xs))


# ---------------------------------------------------------------- the stand-in itself

@pytest.mark.parametrize("binding", BINDINGS)
def test_standin_maps_only_mapped_pinned_memory(monkeypatch, binding):
    from tests.helpers import fake_cuda

    gpu = fake_cuda.install(monkeypatch, FakeGpu(integrated=True), bindings=(binding,))
    if binding == "cuda-python":
        from cuda.bindings import runtime as rt

        status, prop = rt.cudaGetDeviceProperties(0)
        assert prop.integrated == 1
        status, plain = rt.cudaMallocHost(64)
        assert rt.cudaHostGetDevicePointer(plain, 0)[0] == rt.cudaError_t.cudaErrorInvalidValue
        status, mapped = rt.cudaHostAlloc(64, rt.cudaHostAllocMapped)
        status, device = rt.cudaHostGetDevicePointer(mapped, 0)
        assert status == rt.cudaError_t.cudaSuccess and int(device) != int(mapped)
        assert gpu.device_bytes(device, 64) is not None  # kernels reach it through the device pointer
        for p in (plain, mapped):
            rt.cudaFreeHost(p)
    else:
        import pycuda.driver as drv

        drv.init()
        ctx = drv.Device(0).retain_primary_context()
        ctx.push()
        try:
            assert drv.Device(0).get_attribute(drv.device_attribute.INTEGRATED) == 1
            plain = drv.pagelocked_empty(64, np.uint8)
            with pytest.raises(drv.LogicError, match="cuMemHostGetDevicePointer failed: invalid argument"):
                plain.base.get_device_pointer()
            mapped = drv.pagelocked_empty(64, np.uint8, mem_flags=drv.host_alloc_flags.DEVICEMAP)
            mapped[:] = 9
            assert gpu.device_bytes(mapped.base.get_device_pointer(), 64).tolist() == [9] * 64
            plain.base.free()
            mapped.base.free()
        finally:
            drv.Context.pop()
    assert gpu.live() == {}


def test_standin_defers_device_work_until_the_host_waits(monkeypatch):
    from tests.helpers import fake_cuda

    gpu = fake_cuda.install(monkeypatch, FakeGpu(simulated=SimulatedTime(h2d_ms=2.0, d2h_ms=3.0)),
                            bindings=("cuda-python",))
    from cuda.bindings import runtime as rt

    _, stream = rt.cudaStreamCreate()
    _, src = rt.cudaMallocHost(16)
    _, dst = rt.cudaMallocHost(16)
    _, dev = rt.cudaMalloc(16)
    _, e0 = rt.cudaEventCreate()
    _, e1 = rt.cudaEventCreate()
    host = lambda p: gpu.host_bytes(p, 16)
    host(src)[:] = 5
    rt.cudaEventRecord(e0, stream)
    rt.cudaMemcpyAsync(dev, src, 16, rt.cudaMemcpyKind.cudaMemcpyHostToDevice, stream)
    rt.cudaMemcpyAsync(dst, dev, 16, rt.cudaMemcpyKind.cudaMemcpyDeviceToHost, stream)
    rt.cudaEventRecord(e1, stream)
    host(src)[:] = 7  # refilled before the copy ran: the copy takes the new bytes, as on a GPU
    assert host(dst).tolist() == [0] * 16  # read before waiting: not there yet
    assert rt.cudaEventElapsedTime(e0, e1)[0] == rt.cudaError_t.cudaErrorNotReady
    rt.cudaEventSynchronize(e1)
    assert host(dst).tolist() == [7] * 16
    assert rt.cudaEventElapsedTime(e0, e1) == (rt.cudaError_t.cudaSuccess, 5.0)
    assert gpu.host_ms == 5.0 and gpu.copies["h2d"] == 1 and gpu.copies["d2h"] == 1
    for free, h in ((rt.cudaFreeHost, src), (rt.cudaFreeHost, dst), (rt.cudaFree, dev), (rt.cudaEventDestroy, e0),
                    (rt.cudaEventDestroy, e1), (rt.cudaStreamDestroy, stream)):
        free(h)
    assert gpu.live() == {}


def test_standin_orders_streams_by_events(monkeypatch):
    """A stream that waits on another's event runs its work after that event's, in simulated
    time and in the bytes it sees."""
    from tests.helpers import fake_cuda

    gpu = fake_cuda.install(monkeypatch, FakeGpu(simulated=SimulatedTime(h2d_ms=4.0, d2h_ms=1.0)),
                            bindings=("cuda-python",))
    from cuda.bindings import runtime as rt

    _, a = rt.cudaStreamCreate()
    _, b = rt.cudaStreamCreate()
    _, src = rt.cudaMallocHost(8)
    _, dst = rt.cudaMallocHost(8)
    _, dev = rt.cudaMalloc(8)
    _, uploaded = rt.cudaEventCreate()
    _, done = rt.cudaEventCreate()
    gpu.host_bytes(src, 8)[:] = 3
    rt.cudaMemcpyAsync(dev, src, 8, rt.cudaMemcpyKind.cudaMemcpyHostToDevice, a)
    rt.cudaEventRecord(uploaded, a)
    rt.cudaStreamWaitEvent(b, uploaded, 0)
    rt.cudaMemcpyAsync(dst, dev, 8, rt.cudaMemcpyKind.cudaMemcpyDeviceToHost, b)
    rt.cudaEventRecord(done, b)
    rt.cudaEventSynchronize(done)  # pulls stream a's upload in first
    assert gpu.host_bytes(dst, 8).tolist() == [3] * 8
    assert rt.cudaEventElapsedTime(uploaded, done)[1] == 1.0 and gpu.host_ms == 5.0
    rt.cudaDeviceSynchronize()
    for free, h in ((rt.cudaFreeHost, src), (rt.cudaFreeHost, dst), (rt.cudaFree, dev),
                    (rt.cudaEventDestroy, uploaded), (rt.cudaEventDestroy, done), (rt.cudaStreamDestroy, a),
                    (rt.cudaStreamDestroy, b)):
        free(h)
    assert gpu.live() == {}


# ---------------------------------------------------------------- the stream consumers

def test_video_batches_through_the_pipeline_equal_the_serial_path(standin):
    from ifan_trt.runtime.images.pipeline import deblur_frames
    from ifan_trt.runtime.images.pipeline import bgr_to_rgb_float, rgb_float_to_bgr
    from ifan_trt.runtime.images.video import deblur_stream

    engine, gpu, _ = standin()
    rng = np.random.default_rng(3)
    batches = [[rng.integers(0, 256, (40, 56, 3), np.uint8) for _ in range(n)] for n in (2, 2, 1, 2)]
    with TrtExecutor(engine) as ex:
        want = [[rgb_float_to_bgr(o) for o in deblur_frames(ex, [bgr_to_rgb_float(f) for f in b])] for b in batches]
        kernels = gpu.kernels
        got = list(deblur_stream(ex, iter(batches), depth=3))
        assert gpu.kernels - kernels == len(batches)  # one enqueue per batch, through the pipeline's contexts
        assert gpu.live() == {"device": 2, "host": 2, "stream": 1, "event": 4}  # the pipeline was closed
    assert [len(b) for b in got] == [len(b) for b in batches]
    assert all(np.array_equal(a, b) for wb, gb in zip(want, got) for a, b in zip(wb, gb))


def _bgr_batches(sizes, shape=(40, 56, 3), seed=3):
    rng = np.random.default_rng(seed)
    return [[rng.integers(0, 256, shape, np.uint8) for _ in range(n)] for n in sizes]


@pytest.mark.parametrize("binding", BINDINGS)
def test_uint8_frames_through_the_pipeline_equal_the_serial_uint8_path_code_for_code(standin, binding, monkeypatch):
    from ifan_trt.runtime.images.pipeline import deblur_bgr_frames
    from ifan_trt.runtime.tensorrt.pipelined import TrtPipeline
    from ifan_trt.runtime.images.video import deblur_stream

    engine, gpu, _ = standin(binding, io="uint8")
    submitted = []
    submit = TrtPipeline.submit
    monkeypatch.setattr(TrtPipeline, "submit", lambda self, x, tag=None: (submitted.append(x.dtype), submit(self, x, tag))[1])
    batches = _bgr_batches((2, 1, 2, 2, 1)) + _bgr_batches((1, 2), shape=(24, 33, 3), seed=4)  # size changes
    with TrtExecutor(engine, cuda=binding) as ex:
        assert ex.info.io == "uint8"
        want = [deblur_bgr_frames(ex, b) for b in batches]  # the serial uint8 path: run_frames per batch
        kernels, uploads = gpu.kernels, gpu.copies["h2d"]
        got = list(deblur_stream(ex, iter(batches), depth=3))
        assert submitted == [np.dtype(np.uint8)] * len(batches)  # every batch through the pipeline, as frames
        assert gpu.kernels - kernels == len(batches)  # one enqueue per batch
        # the uploads are the frames as they are: one byte per sample, not float32
        assert gpu.copies["h2d"] - uploads == len(batches)
    assert [len(b) for b in got] == [len(b) for b in batches]
    for wb, gb in zip(want, got):
        for a, b in zip(wb, gb):
            assert b.dtype == np.uint8 and b.shape == a.shape and np.array_equal(a, b)
    assert gpu.live() == {}


def test_uint8_pipeline_reaches_1_8x_the_serial_uint8_frame_rate(standin):
    """Simulated device time (upload + compute + download) equal to the host time per frame."""
    from ifan_trt.runtime.images.pipeline import run_uint8_frames
    from ifan_trt.runtime.images.streaming import prepare_bgr_frames

    sim = SimulatedTime(h2d_ms=1.0, compute_ms=4.0, d2h_ms=1.0)
    host_ms = sim.h2d_ms + sim.compute_ms + sim.d2h_ms
    engine, gpu, _ = standin(simulated=sim, io="uint8")
    frames = [b[0] for b in _bgr_batches([1] * 30)]
    with TrtExecutor(engine) as ex:
        def serial(xs, h):
            for f in xs:
                gpu.spend_host(h)
                run_uint8_frames(ex, [f], "bgr")

        def pipelined(xs, h):
            with ex.pipeline(3) as pipe:
                for f in xs:
                    gpu.spend_host(h)
                    prepared = prepare_bgr_frames(ex, [f])
                    if pipe.full:
                        pipe.collect()
                    pipe.submit(prepared.input)
                while pipe.in_flight:
                    pipe.collect()

        serial_fps, pipelined_fps = _fps(gpu, frames, host_ms, serial), _fps(gpu, frames, host_ms, pipelined)
    assert serial_fps == pytest.approx(1e3 / (2 * host_ms))
    assert pipelined_fps >= 1.8 * serial_fps


def test_demo_reports_capture_host_queue_and_device_time_and_the_memory_path(standin, tmp_path):
    from ifan_trt.runtime.demo.latency import demo_report
    from ifan_trt.runtime.demo.live import Demo, DemoOptions
    from ifan_trt.runtime.demo.sources import Source
    from tests.helpers.runtime import write_video

    engine, gpu, _ = standin(integrated=True, simulated=SimulatedTime(h2d_ms=1.0, compute_ms=4.0, d2h_ms=1.0))
    clip = tmp_path / "clip.mp4"
    write_video(clip, frames=12, size=(48, 64))
    demo = Demo(Source("file", str(clip), False), lambda: TrtExecutor(engine), DemoOptions(headless=True, pace=False))
    stats = demo.run()
    assert stats.processed >= 1 and stats.processed + stats.dropped == stats.read == 12
    assert len(stats.capture_ms) == 12
    assert len(stats.host_ms) == len(stats.queue_ms) == len(stats.device_ms) == stats.processed
    # Zero-copy: no copies, so a frame's device time is its compute (4 simulated ms), plus the
    # compute of the other frame in flight when the reader thread queued both at once.
    assert set(stats.device_ms) <= {4.0, 8.0} and 4.0 in stats.device_ms
    assert gpu.copies["h2d"] == gpu.copies["d2h"] == 0
    report = demo_report(stats, source=str(clip), model="tiny.plan", backend=demo.backend_name,
                         precision=demo.precision, opencv="test", memory_path=demo.memory_path,
                         frames_in_flight=demo.frames_in_flight, device_memory=demo.device_memory)
    assert (report["memory_path"], report["frames_in_flight"]) == ("zero-copy", 2)
    block = 16 * 2 * 3 * 64 * 64 * 4  # the stand-in engine's device memory size (its largest input x 16)
    assert (report["activation_bytes"], report["activation_bytes_per_slot"]) == (block, block // 2)
    assert report["io_bytes_per_slot"] == 2 * (2 * 3 * 64 * 64 * 4)  # input and output at the largest shape
    assert set(report["stages_ms"]) == {"capture", "host", "queue", "device"}
    device = np.asarray(stats.device_ms)
    assert report["stages_ms"]["device"] == {f"p{q}": pytest.approx(float(np.percentile(device, q)), abs=0.01)
                                             for q in (50, 90, 99)}
    assert "zero-copy" in demo.backend and "2 frames in flight" in demo.backend
    assert f"device {float(np.percentile(device, 50)):.1f}" in stats.percentiles()
    assert gpu.live() == {}


def test_demo_pipelines_a_uint8_engine_too(standin, tmp_path):
    """Frames of a uint8-I/O engine go through the pipeline (device time per frame from its
    events), not one at a time."""
    from ifan_trt.runtime.demo.live import Demo, DemoOptions
    from ifan_trt.runtime.demo.sources import Source
    from tests.helpers.runtime import write_video

    engine, gpu, _ = standin(io="uint8")
    clip = tmp_path / "clip.mp4"
    write_video(clip, frames=8, size=(48, 64))
    demo = Demo(Source("file", str(clip), False), lambda: TrtExecutor(engine), DemoOptions(headless=True, pace=False))
    stats = demo.run()
    assert stats.processed >= 1 and len(stats.device_ms) == stats.processed
    assert "uint8-io" in demo.backend and "2 frames in flight" in demo.backend
    assert demo.device_memory["frames_in_flight"] == 2
    assert gpu.live() == {}


def test_every_backend_names_its_memory_path(standin, tmp_path, monkeypatch):
    """TensorRT: copy (pinned buffers) or zero-copy; ONNX Runtime on a GPU provider: pageable
    (it copies NumPy's arrays itself); ONNX Runtime on the CPU: none (nothing crosses to a device)."""
    from ifan_trt.runtime.executors.ort_executor import OrtExecutor

    engine, _, _ = standin()
    with TrtExecutor(engine) as ex:
        assert ex.memory_path == "copy" and ex.describe().endswith(", copy)")
    ort_ex = OrtExecutor(tiny_graph(tmp_path / "plain.onnx"))
    assert ort_ex.memory_path is None and ort_ex.describe() == "onnxruntime-cpu fp32"
    monkeypatch.setattr(ort_ex.session, "get_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert ort_ex.memory_path == "pageable" and ort_ex.describe() == "onnxruntime-cuda fp32 (pageable)"
    assert "on onnxruntime-cuda fp32 (pageable)" in run_summary(ort_ex)
