"""What the benchmark runs on, made on the fly (no downloads) and cached in a work folder.

- a full-size official-architecture IFAN (N=17, ch=32) with seeded random weights, saved as an
  ifan-trt checkpoint;
- defocused test images from ifan_trt.training.synthetic (seeded; the calibration images use other seeds);
- ONNX graphs from ifan_trt.export: the standard-op IAC form (kernel2 pruned, and unpruned for
  the ablation), the plugin form (for the native IAC), and the CPU-optimised FP32 graph
  (export/cpu_rewrites.py: streamed filters, sub-pixel upconvs);
- the INT8 graph `ifan precision --to int8-cpu` makes (ifan_trt.calib.cpu_int8).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ifan_trt.files import atomic_write, write_bytes
from ifan_trt.sizes import parse_size

SEED = 0
CALIB_SEEDS = (101, 102, 103, 104)
CALIB_SIZE = (192, 320)


def _atomic_save_npy(path: Path, array: np.ndarray) -> None:
    with atomic_write(path, overwrite=True) as fh:
        np.save(fh, array)


def image(h: int, w: int, seed: int) -> np.ndarray:
    """A defocused synthetic image as the network's input, [1, 3, h, w] float32 RGB in [0, 1]."""
    from ifan_trt.training import synthetic

    sample = synthetic.make_sample(np.random.default_rng(seed), h, w, photos=())  # dead leaves only
    return np.ascontiguousarray(sample.source.transpose(2, 0, 1)[None], np.float32)


def input_path(work: Path, size: str, seed: int = SEED) -> Path:
    path = work / f"input_{size}_s{seed}.npy"
    if not path.is_file():
        h, w = parse_size(size, "size")
        _atomic_save_npy(path, image(h, w, seed))
    return path


def checkpoint(work: Path, seed: int = SEED) -> Path:
    """A random-init full-size IFAN checkpoint (same seed, same weights)."""
    path = work / f"ifan_random_s{seed}.pth"
    if not path.is_file():
        import torch

        from ifan_trt.checkpoint import save_checkpoint
        from ifan_trt.model import IFAN, IFANConfig

        torch.manual_seed(seed)
        save_checkpoint(IFAN(IFANConfig()).eval(), path, {"note": "random init for bench/"})
    return path


def exported(work: Path, ckpt: Path, iac_form: str, prune: bool) -> Path:
    path = work / f"{ckpt.stem}_{iac_form}{'' if prune else '_unpruned'}.onnx"
    if not path.is_file():
        from ifan_trt.export import export_onnx

        export_onnx(ckpt, path, iac_form=iac_form, prune=prune)
    return path


def optimised(work: Path, source: Path, stream: bool = True, subpixel: bool = True) -> Path:
    """The FP32 graph with the CPU rewrites of ifan_trt.export.cpu_rewrites applied."""
    import onnx

    from ifan_trt.export.cpu_rewrites import stream_filters, subpixel_conv_transpose

    tag = ("_stream" if stream else "") + ("_subpixel" if subpixel else "")
    path = source.with_name(source.stem + tag + ".onnx")
    from ifan_trt.export import cpu_rewrites as cpu_graph

    if not path.is_file() or path.stat().st_mtime < Path(cpu_graph.__file__).stat().st_mtime:
        model = onnx.load(os.fspath(source))
        if stream:
            model, _ = stream_filters(model)
        if subpixel:
            model, _ = subpixel_conv_transpose(model)
        write_bytes(path, model.SerializeToString(), overwrite=True)
    return path


def calibration_images(work: Path) -> Path:
    """Synthetic defocused PNGs for calibration (seeds the audit never uses), as a folder, the way
    `ifan precision --calib-images DIR` takes them."""
    import cv2

    folder = work / f"calib_{CALIB_SIZE[0]}x{CALIB_SIZE[1]}"
    folder.mkdir(exist_ok=True)
    for seed in CALIB_SEEDS:
        path = folder / f"s{seed}.png"
        if not path.is_file():
            rgb = image(*CALIB_SIZE, seed)[0].transpose(1, 2, 0)
            cv2.imwrite(str(path), cv2.cvtColor(np.round(rgb * 255).astype(np.uint8), cv2.COLOR_RGB2BGR))
    return folder


def int8(work: Path, fp32: Path, target: str = "cpu", quantize_filters: bool = True) -> Path:
    """The INT8 graph `ifan precision --to int8` makes from the FP32 export (percentile, the command's default
    method): target "cpu" (row e; quantize_filters=False keeps the streamed filter convs float) or
    "tensorrt" (the graph for TensorRT, run here on the CPU for comparison)."""
    from ifan_trt.calib import images as calib_images

    tag = "tensorrt" if target == "tensorrt" else "cpu" + ("" if quantize_filters else "_filters_float")
    path = fp32.with_name(f"{fp32.stem}_int8_{tag}.onnx")
    if not path.is_file():
        folder, count = calibration_images(work), len(CALIB_SEEDS)
        if target == "tensorrt":
            from ifan_trt.calib.prepare import make_int8

            make_int8(fp32, path, folder, "percentile", count, CALIB_SIZE, progress=False)
        else:
            from ifan_trt.export import graph as graphs
            from ifan_trt.calib import cpu_int8
            from ifan_trt.calib.prepare import read_fp32

            model = read_fp32(fp32)
            paths = calib_images.find_images(folder, count)
            qdq = cpu_int8.quantize(model, paths, lambda p: calib_images.feeds_for(["input"], p, CALIB_SIZE),
                                    "percentile", quantize_filters, progress=False)
            graphs.save_model(qdq, path)
    return path


def main(argv: list[str] | None = None) -> int:
    """Make what the rows need; print one JSON line name -> path (run by bench.cpu_speed)."""
    import argparse
    import json

    parser = argparse.ArgumentParser(prog="python -m bench.prepare")
    parser.add_argument("--work", required=True)
    parser.add_argument("--sizes", default="720x1280")
    parser.add_argument("--what", default="a,b,c,d,e", help="rows to prepare for")
    args = parser.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    want = set(args.what.split(","))
    out = {"checkpoint": str(checkpoint(work))}
    ckpt = Path(out["checkpoint"])
    if "c" in want:  # the product: `ifan export`'s default graph; the runtime rewrites it for the CPU
        out["c"] = str(exported(work, ckpt, "plugin", prune=True))
    if "e" in want:  # `ifan precision --to int8-cpu` on the same export
        out["e"] = str(int8(work, exported(work, ckpt, "plugin", prune=True)))
    if "d" in want:
        out["d"] = str(optimised(work, exported(work, ckpt, "plugin", prune=True), stream=False))
    if want & {"a", "b", "c", "d", "e"}:
        for size in args.sizes.split(","):
            out[f"input_{size}"] = str(input_path(work, size))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
