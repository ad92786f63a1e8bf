"""What each term of the training objective gives, at small scale: four `ifan train` runs that
differ only in the loss (deblurring only, + disparity, + reblurring, both), with the same model
size, seed, data, step budget and held-out sets:

- real photos: bench.default_model_quality's photos (bundled sample + scikit-image), centre crops of
  --photo-side px, disc blur at radius 1, 2, 3, 5 and sharp;
- synthetic: `ifan synth --seed 1000 --photos all` images (coffee is never trained on).

    python -m bench.loss_ablation --steps 60 --budget-min 4

Every arm starts from the same initialisation (torch seed = --seed). The deblurring term is the
official MSE (--loss l2) in every arm, so the auxiliary weights of 1 mean what they mean in the
official trainer. Arms run one after another in child processes; a budget in minutes caps each
arm as well, and the table says how many steps each arm made.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ifan_trt.files import write_bytes

from . import default_model_quality as quality
from .report import format_table

ARMS = (("deblur", 0.0, 0.0), ("+disparity", 1.0, 0.0), ("+reblurring", 0.0, 1.0), ("both", 1.0, 1.0))
ROOT = Path(__file__).resolve().parents[1]


def train_arm(work: Path, name: str, disp: float, reblur: float, args) -> Path:
    out = work / f"{name.strip('+')}.pth"
    cmd = [sys.executable, "-m", "ifan_trt", "train", "-o", str(out), "--overwrite",
           "--ch", str(args.ch), "--n-iters", str(args.n_iters), "--patch", str(args.patch), "--batch", str(args.batch),
           "--scene", "0", "--crops-per-scene", "1", "--loss", "l2", "--lr", str(args.lr), "--lr-warmup", str(args.lr_warmup),
           "--steps", str(args.steps), "--budget-min", str(args.budget_min), "--seed", str(args.seed),
           "--max-radius", "10", "--jpeg-prob", "0.2", "--val-count", "2", "--threads", str(args.threads),
           "--log-every", "10", "--ckpt-every-min", "1000", "--loss-disp", str(disp), "--loss-reblur", str(reblur)]
    subprocess.run(cmd, cwd=ROOT, check=True)
    return out


def synthetic_set(work: Path, count: int, size: str) -> list[tuple[np.ndarray, np.ndarray]]:
    from ifan_trt.imageio import read_image

    folder = work / "heldout"
    if not (folder / "source").is_dir():
        subprocess.run([sys.executable, "-m", "ifan_trt", "synth", "-o", str(folder), "--seed", "1000", "--count",
                        str(count), "--size", size, "--photos", "all"], cwd=ROOT, check=True)
    names = sorted(p.name for p in (folder / "source").iterdir())
    to8 = lambda p: np.round(read_image(p).rgb * 255).astype(np.uint8)
    return [(to8(folder / "source" / n), to8(folder / "target" / n)) for n in names]


def score(checkpoint: Path, photos, synthetic, threads: int) -> dict:
    model = quality._deblurrer(str(checkpoint), threads)
    s = quality.summarise(quality.evaluate_model(model, photos))
    syn_in = [quality.psnr8(x, y) for x, y in synthetic]
    syn_out = [quality.psnr8(model(x), y) for x, y in synthetic]
    return {**s, "synthetic_input_db": float(np.mean(syn_in)), "synthetic_output_db": float(np.mean(syn_out))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.loss_ablation", description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--budget-min", type=float, default=4.0, help="cap per arm, minutes")
    parser.add_argument("--ch", type=int, default=8)
    parser.add_argument("--n-iters", type=int, default=4)
    parser.add_argument("--patch", type=int, default=48)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--lr-warmup", type=int, default=10)
    parser.add_argument("--seed", type=int, default=40)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--photo-side", type=int, default=128)
    parser.add_argument("--synthetic", type=int, default=8, help="held-out synthetic images")
    parser.add_argument("--synthetic-size", default="96x128")
    parser.add_argument("--work", default="/tmp/ifan_loss_ablation")
    parser.add_argument("--out", default="bench/results")
    args = parser.parse_args(argv)
    work, out_dir = Path(args.work), Path(args.out)
    work.mkdir(parents=True, exist_ok=True)
    start = time.time()
    photos = quality.held_out_photos(args.photo_side)
    synthetic = synthetic_set(work, args.synthetic, args.synthetic_size)
    rows, record = [], {}
    for name, disp, reblur in ARMS:
        ckpt = train_arm(work, name, disp, reblur, args)
        from ifan_trt.checkpoint import load_checkpoint

        meta = load_checkpoint(ckpt).meta
        s = score(ckpt, photos, synthetic, args.threads)
        record[name] = {"meta_command": meta["command"], "steps": meta["steps"], "minutes": meta["train_minutes"], **s}
        g = s["mean_gain_db"]
        rows.append([name, f"{disp:g}", f"{reblur:g}", str(meta["steps"]), f"{meta['train_minutes']:.1f}",
                     f"{s['synthetic_input_db']:.2f} -> {s['synthetic_output_db']:.2f}",
                     " / ".join(f"{g[r]:+.2f}" for r in sorted(g, key=int)), f"{s['worst_gain_db']:+.2f}",
                     f"{min(s['sharp_min_db'], 99):.1f}"])
    text = (f"Loss ablation: IFAN ch={args.ch} N={args.n_iters}, patch {args.patch}, batch {args.batch}, lr {args.lr} "
            f"({args.lr_warmup}-step warm-up), seed {args.seed}, at most {args.steps} steps or {args.budget_min:g} min per arm, "
            f"{args.threads} threads; held out: {len(synthetic)} synthetic {args.synthetic_size} images (seed 1000) and "
            f"{len(photos)} photos (centre crops <= {args.photo_side} px) at disc radius 1/2/3/5\n\n"
            + format_table(["arm", "w_disp", "w_reblur", "steps", "train min", "synthetic dB in -> out",
                            "photos: mean gain r=1/2/3/5 dB", "worst gain dB", "sharp min dB"], rows)
            + f"\n\ntotal {time.time() - start:.0f} s")
    print(text)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_bytes(out_dir / "loss_ablation.md", text + "\n", overwrite=True)
    write_bytes(out_dir / "loss_ablation.json", json.dumps(record, indent=1) + "\n", overwrite=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
