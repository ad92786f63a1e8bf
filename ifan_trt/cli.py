"""The `ifan` command. Each subcommand lives in its own module with `register(subparsers)`,
which adds its parser and sets `func(args) -> int`; this file only dispatches and turns user
errors into one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__
from .errors import IfanError
from .opencv import import_failure

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
    ".commands.serve",
    ".commands.triton_repo",
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


def _without_opencv(exc: ImportError, prog: str) -> int:
    """An ImportError that means "no usable OpenCV" (an extra: the system's build may be the one
    to use) becomes one line naming the fix; any other is a bug and propagates."""
    message = import_failure(exc)
    if message is None:
        raise exc
    print(f"{prog}: error: {message}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    try:
        parser = build_parser()
    except ImportError as exc:
        return _without_opencv(exc, "ifan")
    args = parser.parse_args(argv)
    from .reports import set_command  # JSON reports record the command line this run was given

    set_command(["ifan", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.func(args) or 0)
    except IfanError as exc:
        print(f"ifan {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except ImportError as exc:
        return _without_opencv(exc, f"ifan {args.command}")
    except KeyboardInterrupt:
        print(f"ifan {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
