"""`ifan eval`: PSNR/SSIM/MAE on DPDD, RealDOF or source/target folders (ifan_trt.training.evaluate)."""

from __future__ import annotations

from ifan_trt.commands.progress import bars
from ifan_trt.files import check_not_input, check_output_file, write_bytes
from ifan_trt.options import add_decode_budget, positive_int
from ifan_trt.training.evaluate import evaluate_folder, format_table

from . import args as arg_groups


def register(subparsers) -> None:
    p = arg_groups.add_command(subparsers, "eval", "PSNR/SSIM/MAE of a model on DPDD, RealDOF or source/target folders",
                               "PSNR, SSIM and MAE of a model on a test set, per image and as a paper-style table "
                               "with the input's row.", run)
    p.add_argument("--data", required=True, help="test set folder (DPDD root, RealDOF root or source/target)")
    arg_groups.add_model(p)
    p.add_argument("--csv", help="per-image metrics CSV (default: none)")
    p.add_argument("--table", help="also write the Markdown table to this file")
    p.add_argument("--save-dir", help="write the deblurred images here")
    arg_groups.add_json(p, "the summary", stdout=True)
    arg_groups.add_crop_official(p)
    arg_groups.add_tiling(p)
    arg_groups.add_batch(p)
    p.add_argument("--limit", type=positive_int, default=None, help="only the first N pairs")
    arg_groups.add_overwrite(p)
    add_decode_budget(p)


def run(args) -> int:
    if args.table:  # before any image is scored
        check_not_input(args.table, [args.checkpoint, args.onnx, args.engine, args.csv], what="--table")
        check_output_file(args.table, args.overwrite, create_parent=True, what="--table")
    arg_groups.check_json(args, [args.checkpoint, args.onnx, args.engine, args.csv, args.table])
    arg_groups.check_model_options(args)
    summary = evaluate_folder(args.data, progress=bars(), checkpoint=args.checkpoint, onnx=args.onnx, engine=args.engine,
                              csv_path=args.csv, save_dir=args.save_dir, official_crop=args.crop_official,
                              threads=args.threads, limit=args.limit, backend=args.backend, device=args.device,
                              plugin=args.plugin, in_bit=args.in_bit, iac_mode=args.iac_mode,
                              overwrite=args.overwrite, tiling=arg_groups.tiling_from(args), batch=args.batch)
    table = format_table(summary)
    print(table, end="")
    if args.json:
        from ifan_trt.reports import write_json

        write_json(args.json, summary)
    if args.table:
        write_bytes(args.table, table, args.overwrite)
    return 0
