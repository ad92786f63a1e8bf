"""Quality of a model on real photos it was not trained to reproduce: the bundled sample's sharp
photo and scikit-image's photos, each blurred by a plain disc (what a user tries first) at radius
1, 2, 3 and 5 px, and passed through sharp (radius 0). Prints the PSNR gain per photo and radius
and checks the default model's goals:

- no blurred photo comes out worse than its input by more than 0.1 dB;
- sharp photos pass through at 40 dB or better;
- the mean gain at radius 3 and above is at least +1.5 dB.

    python -m bench.default_model_quality                       # the bundled model
    python -m bench.default_model_quality --checkpoint run.pth --json run.json

Inputs and outputs are 8-bit (as files a user has); photos larger than --max-side are centre-cropped
to it. The model runs through the Python API (`Deblurrer`, PyTorch on the CPU).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import cv2
import numpy as np

from ifan_trt.files import write_bytes

from .report import format_table

# scikit-image photos that come with the package (no download): natural photos and fine textures;
# coffee is the bundled sample itself
PHOTOS = ("astronaut", "chelsea", "rocket", "camera", "coins", "moon", "immunohistochemistry",
          "hubble_deep_field", "brick", "grass", "gravel")
RADII = (0, 1, 2, 3, 5)
GOALS = {"worst_loss_db": 0.1, "sharp_min_db": 40.0, "mean_gain_r3_db": 1.5}


def disc_blur(rgb: np.ndarray, radius: int) -> np.ndarray:
    """A hard-edged disc of `radius` px, reflected border (OpenCV), on 8-bit sRGB values."""
    if radius == 0:
        return rgb.copy()
    kernel = np.zeros((2 * radius + 1,) * 2, np.float32)
    cv2.circle(kernel, (radius, radius), radius, 1.0, -1)
    out = cv2.filter2D(rgb.astype(np.float32), -1, kernel / kernel.sum(), borderType=cv2.BORDER_REFLECT)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def centre_crop(rgb: np.ndarray, max_side: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    ch, cw = min(h, max_side), min(w, max_side)
    y, x = (h - ch) // 2, (w - cw) // 2
    return np.ascontiguousarray(rgb[y:y + ch, x:x + cw])


def held_out_photos(max_side: int = 512, names: tuple[str, ...] = PHOTOS) -> dict[str, np.ndarray]:
    """{name: 8-bit RGB}: the bundled sample's sharp photo and the scikit-image photos."""
    import skimage.data

    from samples import samples_dir

    photos = {"sample": cv2.imread(str(samples_dir() / "sharp.png"), cv2.IMREAD_COLOR)[..., ::-1]}
    for name in names:
        img = getattr(skimage.data, name)()
        photos[name] = np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img[..., :3]
    return {k: centre_crop(np.ascontiguousarray(v, dtype=np.uint8), max_side) for k, v in photos.items()}


def psnr8(a: np.ndarray, b: np.ndarray) -> float:
    from ifan_trt.metrics import psnr

    return psnr(a.astype(np.float32) / 255, b.astype(np.float32) / 255)


def _deblurrer(checkpoint: str | None, threads: int):
    from ifan_trt.runtime.images.deblurrer import Deblurrer

    return Deblurrer(model=checkpoint or "default", backend="torch", device="cpu", threads=threads)


def evaluate_model(model, photos: dict[str, np.ndarray], radii=RADII) -> list[dict]:
    """Rows {photo, radius, input_db, output_db} for a callable model (8-bit RGB in, 8-bit RGB out)."""
    rows = []
    for name, sharp in photos.items():
        for r in radii:
            blurred = disc_blur(sharp, r)
            out = model(blurred)
            rows.append({"photo": name, "radius": r, "input_db": float(psnr8(blurred, sharp)),
                         "output_db": float(psnr8(out, sharp))})
    return rows


def summarise(rows: list[dict]) -> dict:
    """The goals' numbers: worst gain at radius >= 1, lowest sharp pass-through, mean gains per radius."""
    blurred = [r for r in rows if r["radius"] > 0]
    gains = {r: [x["output_db"] - x["input_db"] for x in blurred if x["radius"] == r]
             for r in sorted({x["radius"] for x in blurred})}
    worst = min(blurred, key=lambda x: x["output_db"] - x["input_db"])
    sharp = [x["output_db"] for x in rows if x["radius"] == 0]
    big = [g for r, gs in gains.items() if r >= 3 for g in gs]
    s = {"mean_gain_db": {str(r): float(np.mean(g)) for r, g in gains.items()},
         "worst_gain_db": float(worst["output_db"] - worst["input_db"]), "worst_case": f"{worst['photo']} r={worst['radius']}",
         "worse_than_input_by_0.1": int(sum(x["output_db"] - x["input_db"] < -GOALS["worst_loss_db"] for x in blurred)),
         "cases": len(blurred), "sharp_min_db": float(min(sharp)) if sharp else float("nan"),
         "mean_gain_r3_db": float(np.mean(big)) if big else float("nan")}
    s["goals_met"] = {"no_image_worse_by_0.1_db": bool(s["worst_gain_db"] >= -GOALS["worst_loss_db"]),
                      "sharp_at_40_db": bool(s["sharp_min_db"] >= GOALS["sharp_min_db"]),
                      "mean_gain_r3_at_1.5_db": bool(s["mean_gain_r3_db"] >= GOALS["mean_gain_r3_db"])}
    return s


def table(rows: list[dict]) -> str:
    """Photos down, radii across: gain in dB (radius 0: the output's PSNR, the input being exact)."""
    radii = sorted({x["radius"] for x in rows})
    by = {(x["photo"], x["radius"]): x for x in rows}
    body = []
    for photo in dict.fromkeys(x["photo"] for x in rows):
        cells = [photo]
        for r in radii:
            x = by[(photo, r)]
            cells.append(("exact" if x["output_db"] == float("inf") else f"{x['output_db']:.1f} dB") if r == 0
                         else f"{x['output_db'] - x['input_db']:+.2f} ({x['input_db']:.1f})")
        body.append(cells)
    head = ["photo"] + [("r=0 output" if r == 0 else f"r={r} gain (input dB)") for r in radii]
    return format_table(head, body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.default_model_quality", description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="checkpoint (default: the bundled model)")
    parser.add_argument("--max-side", type=int, default=512, help="centre-crop photos to at most this side")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", default=None, help="write the rows and the summary here")
    args = parser.parse_args(argv)
    start = time.time()
    model = _deblurrer(args.checkpoint, args.threads)
    rows = evaluate_model(model, held_out_photos(args.max_side))
    s = summarise(rows)
    print(f"model {args.checkpoint or 'default (bundled)'}; disc blur on 8-bit photos, centre crops <= "
          f"{args.max_side} px; {time.time() - start:.0f} s\n")
    print(table(rows))
    print("\nmean gain by radius: " + ", ".join(f"r={r}: {g:+.2f} dB" for r, g in s["mean_gain_db"].items()))
    print(f"worst: {s['worst_gain_db']:+.2f} dB ({s['worst_case']}); {s['worse_than_input_by_0.1']} of {s['cases']} "
          f"blurred cases worse than the input by > 0.1 dB; sharp pass-through >= {s['sharp_min_db']:.1f} dB; "
          f"mean gain at r >= 3: {s['mean_gain_r3_db']:+.2f} dB")
    print("goals: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in s["goals_met"].items()))
    if args.json:
        write_bytes(args.json, json.dumps({"checkpoint": args.checkpoint, "rows": rows, "summary": s}, indent=1) + "\n",
                    overwrite=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
