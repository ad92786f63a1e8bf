"""`ifan inspect MODEL`: what a checkpoint, ONNX export or engine (with its sidecar) is."""

from __future__ import annotations

from . import args as arg_groups


def register(subparsers) -> None:
    p = arg_groups.add_command(subparsers, "inspect", "show what a model file is (variant, N, IAC, precision, "
                                                      "shapes, hashes)",
                               "Variant, N, IAC mode and form, precision, input bit depth, shapes (static or dynamic) "
                               "or engine profiles, opset, plugin, file hashes; TensorRT version and GPU for engines.",
                               run)
    p.add_argument("model", help="checkpoint, .onnx, or .engine/.plan with its .json sidecar; "
                                 "'default' for the bundled model (its ONNX export)")
    arg_groups.add_json(p, "the facts", stdout=True)
    arg_groups.add_overwrite(p)


def run(args) -> int:
    from ifan_trt.models import ModelRef, kind_of
    from ifan_trt.runtime.model_files.model_facts import format_facts, inspect_model

    model = str(ModelRef.parse(args.model, kind_of(args.model, "checkpoint"), "MODEL").path)
    arg_groups.check_json(args, [model, f"{model}.json"])  # an engine's sidecar is an input too
    from ifan_trt.reports import to_stdout

    facts = inspect_model(model)
    if to_stdout(args.json):  # --json -: standard output carries the report alone
        from ifan_trt.reports import write_json

        write_json(args.json, facts)
        return 0
    print(format_facts(facts))
    if facts.get("static_hw"):
        h, w = facts["static_hw"]
        print(f"note: static {h}x{w} input: ifan deblur/eval/profile pad smaller images and tile larger ones to it")
    if args.json:
        from ifan_trt.reports import write_json

        write_json(args.json, facts)
    return 0
