"""How much tiling costs: PSNR between tiled and full-frame output for a model, per overlap.
This is how DEFAULT_OVERLAP was chosen (>= 40 dB). Run it on your own model and images with

    python -m bench.tiling_check --checkpoint MODEL.pth [--image IMG] [--tile 192x192]

Without --image it uses the bundled sample (samples/defocused.png).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from ifan_trt.runtime.interface.executor import Executor
from ifan_trt.runtime.images.tiling import DEFAULT_OVERLAP, parse_tile, run_tiled

OVERLAPS = (0, 16, 32, 48, 64, 96)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(1.0 / mse)


def tiled_psnr(executor: Executor, rgb: np.ndarray, tile: tuple[int, int],
               overlaps=OVERLAPS) -> dict[int, float]:
    """PSNR (dB) of the tiled output against the full-frame output, per overlap. rgb: H x W x 3
    float in [0, 1], H and W multiples of 8."""
    x = np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], np.float32)
    full = executor.run(x)
    tiled_psnr.residual_rms = float(np.sqrt(np.mean((full - x) ** 2)))  # how much the model changes
    return {ov: psnr(run_tiled(executor, x, tile, ov), full) for ov in overlaps}


def defocused_image(h: int, w: int, seed: int = 0, photos: bool = False) -> np.ndarray:
    """A synthetic defocused scene (ifan_trt.training.synthetic), the kind of input the model is for: dead
    leaves, or with photos=True crops of scikit-image's sample photos (needs the train extra)."""
    from ifan_trt.training.synthetic import TRAIN_PHOTOS, make_sample

    return make_sample(np.random.default_rng(seed), h, w, photos=TRAIN_PHOTOS if photos else ()).source


def main(argv: list[str] | None = None) -> int:
    from ifan_trt.imageio import read_image

    from ifan_trt.runtime.executors.backends import open_executor
    from ifan_trt.runtime.images.padding import pad_to_multiple

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint")
    p.add_argument("--onnx")
    p.add_argument("--image", help="an image (default: the bundled sample, samples/defocused.png)")
    p.add_argument("--tile", default="192x192")
    p.add_argument("--threads", type=int)
    args = p.parse_args(argv)
    from samples import samples_dir

    # a photo that is really defocused: a synthetic scene of some seed may be nearly sharp, and a
    # model that leaves it alone shows no tiling cost at all
    rgb = read_image(args.image or str(samples_dir() / "defocused.png")).rgb
    rgb = pad_to_multiple(rgb)
    with open_executor("auto", checkpoint=args.checkpoint, onnx=args.onnx, threads=args.threads) as ex:
        results = tiled_psnr(ex, rgb, parse_tile(args.tile))
    print(f"{rgb.shape[0]}x{rgb.shape[1]} image, tiles {args.tile}, model {args.checkpoint or args.onnx} "
          f"(changes pixels by {tiled_psnr.residual_rms:.3f} RMS)")
    for ov, value in results.items():
        mark = "  <- default" if ov == DEFAULT_OVERLAP else ""
        print(f"overlap {ov:3d} px: {value:6.2f} dB{mark}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
