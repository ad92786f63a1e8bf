"""Row e's accuracy, the way `ifan check --against FP32.onnx` measures it (ifan_trt.calib.audit): the INT8 graph
against the FP32 graph (row c) on synthetic images made with seeds the calibration never saw.
Run in a child process by bench.cpu_speed; prints one JSON line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ifan_trt.sizes import parse_size

from . import prepare

AUDIT_SEEDS = (201, 202, 203)  # calibration uses prepare.CALIB_SEEDS
MIN_PSNR = 33.0


def test_images(work: Path, size: tuple[int, int]) -> list[Path]:
    import cv2

    paths = []
    for seed in AUDIT_SEEDS:
        path = work / f"audit_{size[0]}x{size[1]}_s{seed}.png"
        if not path.is_file():
            rgb = prepare.image(*size, seed)[0].transpose(1, 2, 0)
            cv2.imwrite(str(path), cv2.cvtColor(np.round(rgb * 255).astype(np.uint8), cv2.COLOR_RGB2BGR))
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.audit_int8")
    parser.add_argument("--work", required=True)
    parser.add_argument("--fp32", required=True)
    parser.add_argument("--int8", required=True)
    parser.add_argument("--size", default="360x640")
    args = parser.parse_args(argv)
    from ifan_trt.calib.audit import audit

    size = parse_size(args.size, "--size")
    result = audit(Path(args.fp32), Path(args.int8), test_images(Path(args.work), size), size,
                   min_psnr=MIN_PSNR, progress=False)
    mean = result.mean
    print(json.dumps({"size": args.size, "images": len(result.scores), "worst_psnr": result.worst_psnr,
                      "mean_psnr": mean.psnr, "mean_ssim": mean.ssim, "max_abs_error": max(s.max_abs_error for s in result.scores),
                      "correction_error": getattr(mean, "correction_error", None), "passed": result.passed}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
