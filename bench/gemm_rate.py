"""The machine's GEMM rates, the floor every CPU row is measured against: FP32 (ONNX Runtime MatMul)
and u8s8 INT8 (MatMulInteger, uint8 activations x int8 weights, as in the INT8 graph), on large
square matrices, best of several runs, with the threads the rows use. MLAS, the kernels behind
both, is what rows c, d and e run their convolutions with.

    python -m bench.gemm_rate --threads 2     # one JSON line: CPU, ISA flags, rates in ops/s
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from .report import cpu_model, gemm_ops_per_second, isa_flags


def _session(kind: str, n: int, threads: int):
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    if kind == "fp32":
        a = helper.make_tensor_value_info("a", TensorProto.FLOAT, [n, n])
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, n])
        b = numpy_helper.from_array(rng.standard_normal((n, n)).astype(np.float32), "b")
        node = helper.make_node("MatMul", ["a", "b"], ["y"])
    else:
        a = helper.make_tensor_value_info("a", TensorProto.UINT8, [n, n])
        y = helper.make_tensor_value_info("y", TensorProto.INT32, [n, n])
        b = numpy_helper.from_array(rng.integers(-127, 128, (n, n), dtype=np.int8), "b")
        node = helper.make_node("MatMulInteger", ["a", "b"], ["y"])
    model = helper.make_model(helper.make_graph([node], kind, [a], [y], [b]),
                              opset_imports=[helper.make_opsetid("", 17)])
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    feed = rng.standard_normal((n, n)).astype(np.float32) if kind == "fp32" else \
        rng.integers(0, 256, (n, n), dtype=np.uint8)
    return session, {"a": feed}


def gemm_rate(kind: str, n: int = 2048, threads: int = 2, repeats: int = 7) -> float:
    """Best operations per second of an n x n x n product ("fp32" or "int8"), after one warm-up."""
    session, feeds = _session(kind, n, threads)
    session.run(None, feeds)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        session.run(None, feeds)
        best = min(best, time.perf_counter() - start)
    return gemm_ops_per_second(n, n, n, best)


def measure(threads: int = 2, n: int = 2048, repeats: int = 7) -> dict:
    try:
        cpuinfo = open("/proc/cpuinfo").read()
    except OSError:
        cpuinfo = ""
    import onnxruntime

    return {"cpu": cpu_model(cpuinfo), "isa": isa_flags(cpuinfo), "threads": threads, "n": n, "repeats": repeats,
            "onnxruntime": onnxruntime.__version__,
            "fp32_ops_per_s": gemm_rate("fp32", n, threads, repeats),
            "int8_ops_per_s": gemm_rate("int8", n, threads, repeats)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gemm_rate", description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--n", type=int, default=2048, help="matrix side (n x n x n product)")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs; the best counts")
    args = parser.parse_args(argv)
    result = measure(args.threads, args.n, args.repeats)
    print(f"{result['cpu']} ({', '.join(result['isa']) or 'no listed ISA flags'}), {args.threads} threads: "
          f"FP32 GEMM {result['fp32_ops_per_s'] / 1e9:.0f} GFLOP/s, u8s8 GEMM {result['int8_ops_per_s'] / 1e9:.0f} "
          f"GOP/s", file=sys.stderr)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
