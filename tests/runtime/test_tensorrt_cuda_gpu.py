"""runtime/tensorrt/cuda.py on a GPU, once per installed binding (cuda-python, pycuda): device and
pinned allocations, copies that round-trip, events, and (cuda-python) a captured graph that
re-reads its host buffer at each launch. Bindings that are not installed are skipped."""

from __future__ import annotations

import numpy as np
import pytest

from ifan_trt.runtime.tensorrt.cuda import IMPLEMENTATIONS, available_implementations, open_cuda, probe_gpus

_PROBE = probe_gpus()
if _PROBE.count == 0:  # a GPU behind a broken binding or an old driver is named
    pytest.skip(f"no CUDA GPU visible to cuda-python or pycuda{f' ({_PROBE.problem})' if _PROBE.problem else ''}",
                allow_module_level=True)


@pytest.fixture(params=IMPLEMENTATIONS)
def cuda(request):
    if request.param not in available_implementations():
        pytest.skip(f"{request.param} is not installed")
    handle = open_cuda(request.param)
    yield handle
    handle.close()


def test_copies_round_trip(cuda):
    nbytes = 3 * 1024 * 1024 + 5  # not a multiple of any vector width
    src, dst = cuda.host_alloc(nbytes), cuda.host_alloc(nbytes)
    src[:] = np.random.default_rng(0).integers(0, 256, nbytes, dtype=np.uint8)
    dst[:] = 0
    device = cuda.device_alloc(nbytes)
    cuda.copy_to_device(device, src)
    cuda.copy_to_host(dst, device)
    cuda.synchronize()
    assert np.array_equal(src, dst)


def test_events_measure_queued_work(cuda):
    nbytes = 64 * 1024 * 1024
    host, device = cuda.host_alloc(nbytes), cuda.device_alloc(nbytes)
    start, end = cuda.event(), cuda.event()
    cuda.record(start)
    cuda.copy_to_device(device, host)
    cuda.record(end)
    cuda.synchronize()
    assert cuda.elapsed_ms(start, end) > 0.0  # 64 MB cannot cross PCIe or NVLink-C2C in no time


def test_graph_replays_copies(cuda):
    if not cuda.supports_graphs:
        pytest.skip(f"{cuda.name}: CUDA graphs are not used through this binding")
    nbytes = 4096
    src, dst = cuda.host_alloc(nbytes), cuda.host_alloc(nbytes)
    device = cuda.device_alloc(nbytes)
    cuda.begin_capture()
    cuda.copy_to_device(device, src)
    cuda.copy_to_host(dst, device)
    graph = cuda.end_capture()
    for value in (7, 42):  # each launch copies what src holds then
        src[:] = value
        dst[:] = 0
        cuda.launch(graph)
        cuda.synchronize()
        assert (dst == value).all()


def test_close_twice(cuda):
    cuda.device_alloc(16)
    cuda.close()
    cuda.close()


def test_mapped_memory_is_read_through_its_device_pointer(cuda):
    nbytes = 1 << 20
    mapped, device_ptr = cuda.mapped_alloc(nbytes)
    mapped[:] = np.arange(nbytes, dtype=np.uint64).astype(np.uint8)
    dst = cuda.host_alloc(nbytes)
    dst[:] = 0
    cuda.copy_to_host(dst, device_ptr)  # the device reads the host bytes at their device address
    cuda.synchronize()
    assert np.array_equal(dst, mapped)
    assert isinstance(cuda.integrated, bool)
    cuda.free(mapped)


def test_a_stream_waits_for_another_streams_event(cuda):
    nbytes = 16 * 1024 * 1024
    src, dst = cuda.host_alloc(nbytes), cuda.host_alloc(nbytes)
    src[:] = 5
    dst[:] = 0
    device = cuda.device_alloc(nbytes)
    upload, download = cuda.new_stream(), cuda.new_stream()
    uploaded, done = cuda.event(), cuda.event()
    cuda.copy_to_device(device, src, upload)
    cuda.record(uploaded, upload)
    cuda.wait_event(uploaded, download)  # without it the download could overtake the upload
    cuda.copy_to_host(dst, device, download)
    cuda.record(done, download)
    cuda.event_synchronize(done)
    assert np.array_equal(dst, src)
    for stream in (upload, download):
        cuda.free(stream)
