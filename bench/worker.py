"""One benchmark configuration, run in its own process so that its peak RSS is its own.

``python -m bench.worker SPEC.json`` loads the model the spec names, runs it ``warmup`` times,
then ``runs`` timed times on the same input, saves the last output (.npy) and prints one JSON
line: {"times": [...], "vmhwm": bytes, "setup_s": s}. The parent (bench.cpu_speed) also reads the
child's ru_maxrss from wait4.
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

from ifan_trt.sizes import parse_size

from .report import parse_vmhwm


def _torch_model(spec):
    import torch

    from ifan_trt.checkpoint import load_checkpoint

    torch.set_num_threads(spec["threads"])
    model = load_checkpoint(spec["checkpoint"]).model
    if spec["kind"] == "torch_unfold":
        from .baseline import baseline_model

        model = baseline_model(model)

    def run(x):
        with torch.inference_mode():
            return model(torch.from_numpy(x)).numpy()

    return run


def session_options(spec):
    import onnxruntime as ort

    opts = spec.get("ort", {})
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.intra_op_num_threads = spec["threads"]
    so.inter_op_num_threads = 1
    so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, opts.get("level", "ORT_ENABLE_ALL"))
    arena = opts.get("arena", True)
    so.enable_cpu_mem_arena = bool(arena)
    if arena == "same_as_requested":
        # a process-wide CPU arena that grows by what is asked for, not by powers of two
        # (ONNX Runtime's default extend strategy can reserve up to twice the live peak)
        info = ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT)
        ort.create_and_register_allocator(info, ort.OrtArenaCfg(0, 1, -1, -1))  # 1: kSameAsRequested
        so.add_session_config_entry("session.use_env_allocators", "1")
    so.enable_mem_pattern = opts.get("mem_pattern", True)
    if not opts.get("spinning", True):  # idle threads sleep instead of spinning between ops
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.execution_mode = (ort.ExecutionMode.ORT_PARALLEL if opts.get("parallel") else ort.ExecutionMode.ORT_SEQUENTIAL)
    return so


def _ort_model(spec):
    import onnxruntime as ort

    so = session_options(spec)
    if spec["kind"] == "ort_native":
        from .native_iac import ort_session

        session = ort_session(spec["onnx"], so, spec["threads"], spec["cache_dir"])
    else:
        session = ort.InferenceSession(spec["onnx"], so, providers=["CPUExecutionProvider"])

    def run(x):
        return session.run(["output"], {"input": x})[0]

    return run


def _product_model(spec):
    """What `ifan deblur --onnx MODEL` runs on the CPU: the runtime's executor on the plain export,
    rewriting it (export/cpu_rewrites.py) and setting its session options itself."""
    from ifan_trt.runtime.executors.ort_executor import OrtExecutor

    return OrtExecutor(spec["onnx"], device="cpu", threads=spec["threads"]).run


def _iac_inputs(spec):
    """Deterministic IAC inputs: features and full-layout filters at 1/8 of the image size."""
    h, w = (v // 8 for v in parse_size(spec["size"], "size"))
    n, c, k = spec.get("n_iters", 17), spec.get("channels", 128), 3
    rng = np.random.default_rng(spec.get("seed", 0))
    x = rng.standard_normal((1, c, h, w), dtype=np.float32)
    filters = rng.random((1, n * c * (2 * k + 1), h, w), dtype=np.float32) - np.float32(0.5)
    return x, filters, n, k


def _iac_model(spec):
    x, filters, n, k = _iac_inputs(spec)
    variant = spec["variant"]
    if variant == "native":
        from .native_iac import iac_native

        return (lambda _: iac_native(x, filters, n, k, 0, 0, 0.1, spec["threads"], spec["cache_dir"])), x
    import torch

    torch.set_num_threads(spec["threads"])
    tx, tf = torch.from_numpy(x), torch.from_numpy(filters)
    if variant == "unfold":
        from .baseline import unfold_iac as fn
    else:
        from ifan_trt.iac import iac as fn

    def run(_):
        with torch.inference_mode():
            return fn(tx, tf, n, k).numpy()

    return run, x


def main(argv: list[str]) -> int:
    with open(argv[0]) as fh:
        spec = json.load(fh)
    start = time.perf_counter()
    if spec["kind"] == "iac":
        run, x = _iac_model(spec)
    else:
        x = np.load(spec["input"])
        kind = spec["kind"]
        run = _torch_model(spec) if kind.startswith("torch") else _product_model(spec) if kind == "product" else _ort_model(spec)
    setup = time.perf_counter() - start
    out = None
    for _ in range(spec.get("warmup", 1)):
        out = run(x)
    times = []
    for _ in range(spec["runs"]):
        t0 = time.perf_counter()
        out = run(x)
        times.append(time.perf_counter() - t0)
    if spec.get("output"):
        np.save(spec["output"], np.asarray(out, np.float32))
    with open(f"/proc/{os.getpid()}/status") as fh:
        vmhwm = parse_vmhwm(fh.read())
    print(json.dumps({"times": times, "vmhwm": vmhwm, "setup_s": setup}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
