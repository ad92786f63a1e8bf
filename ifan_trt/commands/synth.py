"""`ifan synth`: write a synthetic defocus data set (DPDD-style folders)."""

from __future__ import annotations

from ifan_trt.errors import IfanError
from ifan_trt.commands.options import float_range, int_range, nonneg_int, probability
from ifan_trt.sizes import parse_size

from . import args as arg_groups
from .progress import bars


def _size(text: str) -> tuple[int, int]:
    """--size HxW (rows first, as every size), at least 16x16."""
    h, w = parse_size(text, "--size", minimum=16)
    if h * w > 64_000_000:  # a set of such images would not fit in memory while rendering
        raise IfanError(f"--size {text}: at most 64 MP")
    return h, w


def register(subparsers) -> None:
    p = arg_groups.add_command(subparsers, "synth", "generate synthetic defocus pairs (source/ and target/)",
                               "Sharp scenes with depth (redistributable skimage photos, dead leaves), thin-lens "
                               "defocus with a disc or polygonal aperture, occlusion-aware compositing, sensor noise "
                               "and optional JPEG. Deterministic from --seed.", run)
    arg_groups.add_output(p, "output folder (an existing set of the same size is replaced only with --overwrite)",
                          required=True)
    p.add_argument("--count", type=int_range(1, 1_000_000), default=30, metavar="N",
                   help="image pairs to write (default %(default)s)")
    arg_groups.add_size(p, "--size", "image size", "384x512")
    p.add_argument("--seed", type=nonneg_int, default=1000,
                   help="random seed (default 1000: training uses seed 0 and 1 for validation)")
    p.add_argument("--max-radius", type=float_range(0.0, 200.0), default=10.0, help="largest CoC radius in pixels")
    p.add_argument("--jpeg-prob", type=probability, default=0.0, help="share of sources JPEG-compressed (default 0)")
    p.add_argument("--photos", default="all",
                   help="comma-separated skimage photos, 'all', 'train' (coffee held out) or 'none'")
    p.add_argument("--dual", action="store_true",
                   help="also dual-pixel views: DPDD layout test_c/, test_l/, test_r/")
    arg_groups.add_overwrite(p)


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
    out = synthetic.write_dataset(args.output, args.count, _size(args.size), args.seed, photos,
                                  args.max_radius, args.jpeg_prob, args.dual, progress=bars(),
                                  overwrite=args.overwrite)
    print(f"wrote {args.count} pairs to {out}")
    return 0
