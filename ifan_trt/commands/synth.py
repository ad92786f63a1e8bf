"""`ifan synth`: write a synthetic defocus data set (DPDD-style folders)."""

from __future__ import annotations

import argparse

from ifan_trt.errors import IfanError
from ifan_trt.options import float_range, int_range, nonneg_int, probability
from ifan_trt.sizes import parse_size


def _size(text: str) -> tuple[int, int]:
    """--size HxW (rows first, as every size), at least 16x16."""
    try:
        h, w = parse_size(text, "--size", minimum=16)
    except IfanError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--size ")) from None
    if h * w > 64_000_000:  # a set of such images would not fit in memory while rendering
        raise argparse.ArgumentTypeError(f"{text!r}: at most 64 MP")
    return h, w


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "synth", help="generate synthetic defocus pairs (source/ and target/)",
        description="Sharp scenes with depth (redistributable skimage photos, dead leaves), "
                    "thin-lens defocus with a disc or polygonal aperture, occlusion-aware "
                    "compositing, sensor noise and optional JPEG. Deterministic from --seed.")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--count", type=int_range(1, 1_000_000), default=30)
    p.add_argument("--size", type=_size, default=(384, 512), help="HxW (default 384x512)")
    p.add_argument("--seed", type=nonneg_int, default=1000, help="training uses seed 0 (and 1 for validation)")
    p.add_argument("--max-radius", type=float_range(0.0, 200.0), default=10.0, help="largest CoC radius in pixels")
    p.add_argument("--jpeg-prob", type=probability, default=0.0, help="share of sources JPEG-compressed")
    p.add_argument("--photos", default="all",
                   help="comma-separated skimage photos, 'all', 'train' (coffee held out) or 'none'")
    p.add_argument("--dual", action="store_true",
                   help="also dual-pixel views: DPDD layout test_c/, test_l/, test_r/")
    p.add_argument("--overwrite", action="store_true", help="replace the images of an existing set of the same size")
    p.set_defaults(func=run)


def run(args) -> int:
    from ifan_trt.training import synthetic

    if args.count < 1:
        raise IfanError(f"--count {args.count}: must be at least 1")
    if args.photos == "all":
        photos = tuple(synthetic.PHOTOS)
    elif args.photos == "train":
        photos = synthetic.TRAIN_PHOTOS
    elif args.photos == "none":
        photos = ()
    else:
        photos = tuple(p.strip() for p in args.photos.split(",") if p.strip())
        unknown = [p for p in photos if p not in synthetic.PHOTOS]
        if unknown:
            raise IfanError(f"--photos: unknown {', '.join(unknown)}; choose from {', '.join(synthetic.PHOTOS)}")
    out = synthetic.write_dataset(args.out, args.count, args.size, args.seed, photos,
                                  args.max_radius, args.jpeg_prob, args.dual, overwrite=args.overwrite)
    print(f"wrote {args.count} pairs to {out}")
    return 0
