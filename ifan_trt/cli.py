"""The `ifan` command. Each subcommand lives in its own module with `register(subparsers)`,
which adds its parser and sets `func(args) -> int`; this file dispatches and is the one error
boundary: an expected failure is one line `ifan CMD: error: <what>: <why>[; hint]` and exit 1, a
usage error one line and exit 2, a bug one line saying so (the traceback with --debug)."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import os
import signal
import sys
import traceback
import warnings

from . import __version__, files, log, noise
from .failures import describe, internal, one_line
from .opencv import import_failure

# module (relative to ifan_trt) per subcommand, in --help order
COMMANDS = [
    ".commands.deblur",
    ".commands.demo",
    ".commands.profile",
    ".commands.export",
    ".commands.check",
    ".commands.synth",
    ".commands.train",
    ".commands.eval",
    ".commands.precision",
    ".commands.build",
    ".commands.serve",
    ".commands.triton_repo",
    ".commands.inspect",
    ".commands.benchmark",
]


class UsageError(Exception):
    """argparse's error, raised instead of printing usage and exiting (one line from main)."""


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that temps are removed on the way out."""


class Parser(argparse.ArgumentParser):
    """argparse with usage errors as one line, `ifan CMD: error: <message>`, and one spelling per
    option (no abbreviations: `--out` is not `--output`)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        raise UsageError(f"{self.prog}: error: {message}")


def build_parser() -> argparse.ArgumentParser:
    from .commands.args import add_messages  # inside: a missing OpenCV is reported by main

    parser = Parser(prog="ifan", description="IFAN defocus deblurring toolkit")
    parser.add_argument("--version", action="version", version=f"ifan-trt {__version__}")
    add_messages(parser)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(name, __package__).register(subparsers)
    return parser


def _on_sigterm(signum, frame):
    files.remove_live_temps()
    raise Terminated()


@contextlib.contextmanager
def _signals():
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread: the caller owns signals
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _without_opencv(exc: ImportError, prog: str) -> int:
    """An ImportError that means "no usable OpenCV" (an extra: the system's build may be the one
    to use) becomes one line naming the fix; any other is a bug and propagates."""
    message = import_failure(exc)
    if message is None:
        raise exc
    print(f"{prog}: error: {message}", file=sys.stderr)
    return 1


def _drop_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush finds no closed pipe."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real stdout (captured): nothing to flush
        pass


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    try:
        parser = build_parser()
    except ImportError as exc:
        return _without_opencv(exc, "ifan")
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:
            raise UsageError(f"ifan {args.command}: error: unrecognized arguments: {' '.join(extra)}")
    except UsageError as exc:
        print(str(exc).splitlines()[0] if str(exc) else "ifan: usage error", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help, --version
        return int(exc.code or 0) if isinstance(exc.code, int) or exc.code is None else 2
    name = f"ifan {args.command}"
    from .reports import set_command  # JSON reports record the command line this run was given

    set_command(["ifan", *argv])
    verbose, quiet = getattr(args, "verbose", False), getattr(args, "quiet", False)
    noise.configure(verbose)
    if getattr(args, "max_decode_pixels", None):
        from .imageio import set_decode_budget

        set_decode_budget(args.max_decode_pixels)
    # the ifan logger writes to the terminal's stderr; under --quiet everything else (results on
    # stdout, progress bars) goes nowhere and the logger lets only errors through
    logger = log.to_terminal(name, log.level_for(quiet, verbose), sys.stderr)
    out = contextlib.redirect_stdout(io.StringIO()) if quiet else contextlib.nullcontext()
    err = contextlib.redirect_stderr(io.StringIO()) if quiet else contextlib.nullcontext()
    try:
        with _signals(), logger, out, err, warnings.catch_warnings():
            if not verbose:  # library warnings (torch, PIL, onnx) are noise to a user
                warnings.simplefilter("ignore")
            return int(args.func(args) or 0)
    except KeyboardInterrupt:
        files.remove_live_temps()
        print(f"{name}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `ifan ... | head`: the reader left; end quietly, as `yes | head` does
        _drop_stdout()
        return 141
    except Terminated:
        print(f"{name}: terminated", file=sys.stderr)
        return 143
    except UsageError as exc:  # a sub-parser used late (e.g. a shared size parser)
        print(f"{name}: error: {str(exc).split('error: ', 1)[-1]}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001  the boundary: nothing leaves as a traceback
        text = import_failure(exc) if isinstance(exc, ImportError) else None
        text = text or describe(exc)
        if text is None:
            if debug:
                traceback.print_exc()
            text = internal(exc)
        print(f"{name}: error: {one_line(text)}", file=sys.stderr)
        return 1
    finally:
        files.remove_live_temps()
        if getattr(args, "max_decode_pixels", None):
            from .imageio import set_decode_budget

            set_decode_budget(None)


if __name__ == "__main__":
    sys.exit(main())
