"""`ifan inspect MODEL`: what a checkpoint, ONNX export or engine (with its sidecar) is."""

from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "inspect", help="show what a model file is (variant, N, IAC, precision, shapes, hashes)",
        description="Variant, N, IAC mode and form, precision, input bit depth, shapes (static or dynamic) "
                    "or engine profiles, opset, plugin, file hashes; TensorRT version and GPU for engines.")
    p.add_argument("model", help="checkpoint, .onnx, or .engine/.plan with its .json sidecar; "
                                 "'default' for the bundled model (its ONNX export)")
    p.add_argument("--json", metavar="FILE", help="write the facts as JSON (with machine, versions, command)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ifan_trt.runtime.backends import named_model
    from ifan_trt.runtime.model_facts import _KINDS, format_facts, inspect_model

    suffix = args.model.lower().rsplit(".", 1)[-1] if "." in args.model else ""
    kind = _KINDS.get(f".{suffix}", "checkpoint") if args.model != "default" else "onnx"
    facts = inspect_model(named_model(kind, args.model, "MODEL"))
    print(format_facts(facts))
    if facts.get("static_hw"):
        h, w = facts["static_hw"]
        print(f"note: static {h}x{w} input: ifan deblur/eval/profile pad smaller images and tile larger ones to it")
    if args.json:
        from ifan_trt.reports import write_json

        write_json(args.json, facts)
    return 0
