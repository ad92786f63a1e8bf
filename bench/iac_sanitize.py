"""Tiny driver of libifan_iac_cuda.so for compute-sanitizer (memcheck, racecheck): a few small
problems covering both dtypes, both modes and layouts, aligned and misaligned buffers, several
tiles per row. Exits 0 when every launch returned cudaSuccess (the sanitizer judges the rest).

    compute-sanitizer --tool memcheck python -m bench.iac_sanitize
"""

from __future__ import annotations

import sys

CASES = [  # (B, c, h, w), N, k, mode, layout, dtype, element offset of every buffer
    ((1, 2, 5, 7), 2, 3, 0, 0, "float32", 0),
    ((2, 3, 9, 16), 3, 3, 1, 0, "float32", 1),
    ((1, 2, 13, 300), 2, 7, 0, 1, "float16", 0),
    ((1, 1, 7, 259), 3, 5, 1, 0, "float16", 1),
]


def main() -> int:
    import torch

    from ifan_trt.contract import filter_channels
    from ifan_trt.runtime.tensorrt.iac_cuda import run_iac

    for shape, n, k, mode, layout, dtype, offset in CASES:
        b, c, h, w = shape
        kind = getattr(torch, dtype)

        def tensor(*size):
            count = 1
            for s in size:
                count *= s
            return torch.randn(count + offset, dtype=kind, device="cuda")[offset:].view(size)

        run_iac(tensor(*shape), tensor(b, filter_channels(n, c, k, layout), h, w), tensor(*shape),
                n_iters=n, k=k, mode=mode, layout=layout)
    torch.cuda.synchronize()
    print(f"iac_sanitize: {len(CASES)} problems ran")
    return 0


if __name__ == "__main__":
    sys.exit(main())
