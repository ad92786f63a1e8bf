"""`ifan eval`: PSNR/SSIM/MAE on DPDD, RealDOF or source/target folders (the job: ifan_trt.jobs.evaluate)."""

from __future__ import annotations

from pathlib import Path

from ifan_trt.commands.options import add_decode_budget, positive_int

from . import args as arg_groups
from .progress import bars


def register(subparsers) -> None:
    p = arg_groups.add_command(subparsers, "eval", "PSNR/SSIM/MAE of a model on DPDD, RealDOF or source/target folders",
                               "PSNR, SSIM and MAE of a model on a test set, per image and as a paper-style table "
                               "with the input's row.", run)
    p.add_argument("--data", required=True, type=Path, metavar="DIR", help="test set folder (DPDD root, RealDOF root or source/target)")
    arg_groups.add_model(p)
    p.add_argument("--csv", type=Path, metavar="FILE", help="per-image metrics CSV (default: none)")
    p.add_argument("--table", help="also write the Markdown table to this file")
    p.add_argument("--save-dir", help="write the deblurred images here")
    arg_groups.add_json(p, "the summary", stdout=True)
    arg_groups.add_crop_official(p)
    arg_groups.add_tiling(p)
    arg_groups.add_batch(p)
    p.add_argument("--limit", type=positive_int, metavar="N", help="only the first N image pairs")
    arg_groups.add_overwrite(p)
    add_decode_budget(p)


def run(args) -> int:
    from ifan_trt.jobs.evaluate import EvaluateRequest, evaluate

    arg_groups.check_json(args, [args.checkpoint, args.onnx, args.engine, args.csv, args.table])
    arg_groups.check_model_options(args)
    result = evaluate(EvaluateRequest(args.data, arg_groups.run_model_from(args), args.csv, args.table, args.save_dir,
                                      args.limit, args.crop_official, **arg_groups.tiling_fields(args),
                                      batch=args.batch, overwrite=args.overwrite, progress=bars(),
                                      names=arg_groups.flag))
    print(result.table, end="")
    if args.json:
        from ifan_trt.reports import write_json

        write_json(args.json, result.summary)
    return 0
