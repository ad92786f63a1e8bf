"""Peak memory of `ifan deblur` on a 12 MP photo, whole and tiled, and the out-of-memory advice
followed under an address-space limit.

    python -m bench.tile_memory                      # bundled model and the official-size model
    python -m bench.tile_memory --models default     # bundled model only

Each run is `python -m ifan_trt deblur` in its own child process; its peak RSS is the child's own
ru_maxrss from wait4 (the parent stays small and makes the image in another child, so the peak a
child inherits from its parent at fork is negligible). The image is generated (a smooth colour
field with edges, blurred), 4000x3000 by default. The official-size model is the official
architecture (N=17, ch=32) with seeded random weights, exported as `ifan export` does
(bench/prepare.py); its memory does not depend on the weights.

The limited rows run with RLIMIT_AS (what `ulimit -v` sets) and show the command's last line.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_SIZE = "3000x4000"
RUNS = (("whole", []), ("--max-pixels 2000000", ["--max-pixels", "2000000"]), ("--tile 512x512", ["--tile", "512x512"]))
LIMITED_RUNS = (("whole", []), ("--max-pixels 2000000", ["--max-pixels", "2000000"]))
LIMIT_KIB = 4_000_000  # `ulimit -v 4000000`


def make_image(path: Path, h: int, w: int, seed: int = 0) -> None:
    """A defocused-looking photo stand-in: coloured rectangles and discs on a smooth field, blurred."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(seed)
    img = cv2.resize(rng.integers(0, 256, (h // 64, w // 64, 3), dtype=np.uint8), (w, h), interpolation=cv2.INTER_CUBIC)
    for _ in range(400):
        y, x = int(rng.integers(0, h)), int(rng.integers(0, w))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            cv2.circle(img, (x, y), int(rng.integers(8, 120)), colour, -1)
        else:
            cv2.rectangle(img, (x, y), (x + int(rng.integers(8, 200)), y + int(rng.integers(8, 200))), colour, -1)
    img = cv2.GaussianBlur(img, (0, 0), 2.5)
    if not cv2.imwrite(str(path), img):
        raise SystemExit(f"could not write {path}")


def _limit_as(kib: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (kib * 1024, kib * 1024))
    return apply


def run_child(cmd: list[str], limit_kib: int | None = None) -> tuple[int, float, float, str]:
    """(exit code, wall s, peak RSS MiB, last stderr line) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_limit_as(limit_kib) if limit_kib else None)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    lines = [line for line in err.splitlines() if line.strip()]
    return proc.returncode, time.perf_counter() - start, usage.ru_maxrss / 1024, lines[-1] if lines else ""


def official_onnx(work: Path) -> Path:
    """The official-size model with seeded random weights, exported as `ifan export` does (cached)."""
    from bench.prepare import checkpoint, exported

    return exported(work, checkpoint(work), "plugin", prune=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default=DEFAULT_SIZE, help=f"image size HxW (default {DEFAULT_SIZE})")
    parser.add_argument("--models", default="default,official", help="default (bundled) and/or official")
    parser.add_argument("--work", default="/tmp/ifan_bench", help="cache folder (image, official model)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-limit", action="store_true", help="skip the runs under the address-space limit")
    parser.add_argument("--runs", default="", help="only the runs whose label contains one of these (comma list, "
                                                   "e.g. max-pixels)")
    parser.add_argument("--make-image", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    from ifan_trt.sizes import parse_size

    h, w = parse_size(args.size, "--size")
    if args.make_image:
        make_image(Path(args.make_image), h, w)
        return 0
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    image = work / f"photo_{h}x{w}.png"
    if not image.is_file():  # in a child: the parent's own peak stays small
        subprocess.run([sys.executable, "-m", "bench.tile_memory", "--size", args.size, "--make-image", str(image)],
                       check=True)
    models = {}
    for name in args.models.split(","):
        if name == "default":
            models[name] = []
        elif name == "official":  # exported in a child too
            path = work / "ifan_random_s0_plugin.onnx"
            if not path.is_file():
                subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; "
                                "from bench.tile_memory import official_onnx; official_onnx(Path(sys.argv[1]))",
                                str(work)], check=True)
            models[name] = ["--onnx", str(path)]
        else:
            parser.error(f"--models: unknown model {name!r} (default, official)")

    rows = []
    out = work / "out.png"
    for name, model in models.items():
        whole_mib = None
        runs = [(label, flags, None) for label, flags in RUNS]
        if not args.no_limit:
            runs += [(label, flags, LIMIT_KIB) for label, flags in LIMITED_RUNS]
        if args.runs:
            runs = [r for r in runs if any(part in r[0] for part in args.runs.split(","))]
        for label, flags, limit in runs:
            cmd = [sys.executable, "-m", "ifan_trt", "deblur", str(image), "-o", str(out), "--overwrite",
                   "--threads", str(args.threads), *model, *flags]
            code, wall, peak, last = run_child(cmd, limit)
            if label == "whole" and limit is None:
                whole_mib = peak
            ratio = f"{peak / whole_mib:.0%}" if whole_mib and limit is None else ""
            rows.append((name, label, f"ulimit -v {limit}" if limit else "", str(code), f"{wall:.1f}",
                         f"{peak:.0f}", ratio, last[:90] if code else ""))
            print(" | ".join(rows[-1]), file=sys.stderr, flush=True)

    head = ("model", "run", "limit", "exit", "wall s", "peak RSS MiB", "vs whole", "message (failed runs)")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    line = lambda r: "| " + " | ".join(c.ljust(wd) for c, wd in zip(r, widths)) + " |"
    print(f"ifan deblur on a {w}x{h} PNG ({h * w / 1e6:.0f} MP), onnxruntime CPU, {args.threads} threads")
    print()
    print(line(head))
    print("|" + "|".join("-" * (wd + 2) for wd in widths) + "|")
    for r in rows:
        print(line(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
