"""The `ifan` command. Each subcommand lives in its own module with `register(subparsers)`,
which adds its parser and sets `func(args) -> int`; this file only dispatches and turns user
errors into one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__
from .errors import IfanError

# module (relative to ifan_trt) per subcommand, in --help order
COMMANDS = [
    ".commands.deblur",
    ".commands.demo",
    ".commands.profile",
    ".commands.export",
    ".commands.verify",
    ".commands.synth",
    ".commands.train",
    ".commands.eval",
    ".commands.fp16",
    ".commands.calibrate",
    ".commands.audit",
    ".commands.build",
    ".commands.inspect",
    ".commands.benchmark",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ifan", description="IFAN defocus deblurring toolkit")
    parser.add_argument("--version", action="version", version=f"ifan-trt {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(name, __package__).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .reports import set_command  # JSON reports record the command line this run was given

    set_command(["ifan", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.func(args) or 0)
    except IfanError as exc:
        print(f"ifan {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"ifan {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
