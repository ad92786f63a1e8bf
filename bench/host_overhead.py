"""Host work per frame around a network that does nothing: the float path against the uint8 path
(`ifan export --io uint8`), at 720p and 1080p, against a plain copy of the 8-bit frame as the floor.

What a frame costs the host between the camera (an 8-bit BGR frame from OpenCV) and the
deblurred 8-bit BGR frame, when the network itself is free:
- preprocess: the pipeline's own (float: BGR -> RGB float / 255, edge-pad to 8, NCHW; uint8: the
  frame stacked into the batch, nothing else);
- staging: what a TensorRT executor does on the host around the device (the input copied into its
  pinned buffer in the engine's type, the output copied out; float32 both ways for a float engine,
  uint8 for a uint8 one) — the null network stands in for the device and is not timed;
- postprocess: the pipeline's own (float: crop, clip, x 255, round, BGR uint8; uint8: nothing).
The floor is one copy of the H x W x 3 uint8 frame (np.copyto into a buffer allocated once): no
path can move a frame for less. Times are the median of --repeats runs, one thread (NumPy).

The last rows show where the conversions go on a CPU backend: ONNX Runtime running the uint8
wrapper (export/uint8_io.py) around an Identity network, i.e. the in-graph cast, scale, channel
order, pad, crop and rounding on the CPU. On a GPU those run on the device.

    python -m bench.host_overhead                 # table on stderr, JSON on stdout
    python -m bench.host_overhead --repeats 50 --sizes 720x1280
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from ifan_trt.runtime.interface.executor import Executor, ModelInfo

from .report import cpu_model, format_table


class NullExecutor(Executor):
    """A network that returns its input, with a TensorRT executor's host staging: pinned-like
    buffers allocated once, the input copied in (cast to the engine's type), the output copied out."""

    backend = "null"

    def __init__(self, io: str, shape: tuple[int, ...]):
        self.info = ModelInfo(io=io, channel_order="bgr")
        dtype = np.uint8 if io == "uint8" else np.float32
        self._in, self._out = np.empty(shape, dtype), np.empty(shape, dtype)
        self.staging_ms = 0.0

    def _stage(self, a: np.ndarray) -> np.ndarray:
        start = time.perf_counter()
        self._in[...] = a  # host -> pinned staging (the H2D copy's source)
        spent = time.perf_counter() - start
        np.copyto(self._out, self._in)  # the "device": not timed
        start = time.perf_counter()
        out = self._out.astype(np.float32 if self.info.io == "float" else np.uint8, copy=True)  # pinned -> caller
        self.staging_ms = (spent + time.perf_counter() - start) * 1e3
        return out

    def run(self, input, left=None, right=None):
        return self._stage(input)

    def run_frames(self, frames):
        return self._stage(frames)


def _median_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3


def measure_paths(h: int, w: int, repeats: int) -> dict:
    """Milliseconds per frame of each host stage, float and uint8 paths, and the memcpy floor."""
    from ifan_trt.runtime.images.padding import padded_size
    from ifan_trt.runtime.images.pipeline import batch_to_frames, frames_to_batch, network_input, network_output
    from ifan_trt.runtime.images.pipeline import bgr_to_rgb_float, rgb_float_to_bgr

    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    copy = np.empty_like(frame)
    floor = _median_ms(lambda: np.copyto(copy, frame), repeats)
    ph, pw = padded_size(h, w)
    result = {"floor_memcpy_ms": floor}
    for io in ("float", "uint8"):
        null = NullExecutor(io, (1, 3, ph, pw) if io == "float" else (1, h, w, 3))
        if io == "float":
            pre = lambda: network_input(null, [bgr_to_rgb_float(frame)])  # noqa: E731
            post = lambda out: [rgb_float_to_bgr(f) for f in network_output(out, h, w)]  # noqa: E731
            run = null.run
        else:
            pre = lambda: frames_to_batch(null, [frame], "bgr")  # noqa: E731
            post = lambda out: batch_to_frames(null, out, "bgr")  # noqa: E731
            run = null.run_frames
        x = pre()
        out = run(x)
        staging = []

        def staged():
            run(x)
            staging.append(null.staging_ms)

        staged()
        for _ in range(repeats):
            staged()
        stages = {"preprocess_ms": _median_ms(pre, repeats), "staging_ms": float(np.median(staging[1:])),
                  "postprocess_ms": _median_ms(lambda: post(out), repeats)}
        stages["host_ms"] = sum(stages.values())
        result[io] = stages
    return result


def measure_ort_wrapper(h: int, w: int, repeats: int, threads: int) -> dict:
    """ONNX Runtime (CPU) on the uint8 wrapper around an Identity network: the in-graph conversions."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    from ifan_trt.export.uint8_io import wrap

    dims = ["batch", 3, "height", "width"]
    core = helper.make_model(helper.make_graph(
        [helper.make_node("Identity", ["input"], ["output"], name="null")], "null",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, dims)]),
        opset_imports=[helper.make_opsetid("", 19)])
    for key, value in {"ifan.variant": "null", "ifan.in_bit": "8"}.items():
        core.metadata_props.add(key=key, value=value)
    model = wrap(core, "bgr")
    onnx.checker.check_model(model)
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    frame = np.random.default_rng(1).integers(0, 256, (1, h, w, 3), dtype=np.uint8)
    out = session.run(None, {"input": frame})[0]
    assert np.array_equal(out, frame), "the uint8 wrapper around Identity must give the frame back"
    return {"ort_in_graph_ms": _median_ms(lambda: session.run(None, {"input": frame}), repeats), "threads": threads}


def main(argv: list[str] | None = None) -> int:
    from ifan_trt.sizes import parse_size

    parser = argparse.ArgumentParser(prog="python -m bench.host_overhead", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["720x1280", "1080x1920"], help="frame sizes HxW")
    parser.add_argument("--repeats", type=int, default=30, help="timed runs per stage; the median counts")
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime threads for the in-graph rows")
    args = parser.parse_args(argv)
    try:
        cpu = cpu_model(open("/proc/cpuinfo").read())
    except OSError:
        cpu = "unknown CPU"
    import os

    rows, results = [], {"cpu": cpu, "cores": os.cpu_count(), "repeats": args.repeats, "sizes": {},
                         "load_average_before": os.getloadavg()[0]}
    for text in args.sizes:
        h, w = parse_size(text, "--sizes")
        r = measure_paths(h, w, args.repeats)
        r.update(measure_ort_wrapper(h, w, args.repeats, args.threads))
        results["sizes"][f"{h}x{w}"] = r
        floor = r["floor_memcpy_ms"]
        for io in ("float", "uint8"):
            s = r[io]
            rows.append([f"{h}x{w}", io, f"{s['preprocess_ms']:.2f}", f"{s['staging_ms']:.2f}",
                         f"{s['postprocess_ms']:.2f}", f"{s['preprocess_ms'] + s['postprocess_ms']:.2f}",
                         f"{s['host_ms']:.2f}", f"{s['host_ms'] / floor:.1f}x"])
        rows.append([f"{h}x{w}", "memcpy floor", "", "", "", "", f"{floor:.2f}", "1.0x"])
        rows.append([f"{h}x{w}", f"uint8 in-graph, ORT CPU {args.threads} thr", "", "", "", "",
                     f"{r['ort_in_graph_ms']:.2f}", f"{r['ort_in_graph_ms'] / floor:.1f}x"])
    results["load_average_after"] = os.getloadavg()[0]
    print(f"host work per frame around a null network, {cpu}, {os.cpu_count()} cores, median of {args.repeats}, "
          f"load average {results['load_average_before']:.1f} -> {results['load_average_after']:.1f}",
          file=sys.stderr)
    print(format_table(["frame", "path", "pre ms", "staging ms", "post ms", "pre+post ms", "host ms",
                        "x memcpy"], rows), file=sys.stderr)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
