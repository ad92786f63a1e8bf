"""Range-checked argparse types: every numeric option is checked at parse time, so a bad value is
one usage line naming the option (argparse adds `argument --batch:`), never a late crash."""

from __future__ import annotations

import argparse
import math


def _int(text: str) -> int:
    try:
        return int(text, 0) if str(text).lower().startswith(("0x", "0o", "0b")) else int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def int_range(low: int | None = None, high: int | None = None):
    """An integer in [low, high] (either bound may be open)."""
    def parse(text: str) -> int:
        value = _int(text)
        if (low is not None and value < low) or (high is not None and value > high):
            span = (f"between {low} and {high}" if low is not None and high is not None
                    else f">= {low}" if low is not None else f"<= {high}")
            raise argparse.ArgumentTypeError(f"must be {span}, got {value}")
        return value
    parse.__name__ = "integer"
    return parse


def float_range(low: float | None = None, high: float | None = None, low_open: bool = False):
    """A finite number in [low, high] ((low, high] with low_open)."""
    def parse(text: str) -> float:
        value = _float(text)
        too_low = low is not None and (value <= low if low_open else value < low)
        if too_low or (high is not None and value > high):
            lo = f"> {low}" if low_open else f">= {low}"
            span = f"{lo} and <= {high}" if low is not None and high is not None else lo if low is not None else f"<= {high}"
            raise argparse.ArgumentTypeError(f"must be {span}, got {text}")
        return value
    parse.__name__ = "number"
    return parse


positive_int = int_range(1)
nonneg_int = int_range(0)
positive_float = float_range(0.0, low_open=True)
nonneg_float = float_range(0.0)
probability = float_range(0.0, 1.0)
threads = int_range(1, 1024)
opset = int_range(18, 23)  # torch.onnx's dynamo exporter writes 18 and newer
port = int_range(1, 65535)


def add_decode_budget(p: argparse.ArgumentParser) -> None:
    """--max-decode-pixels, for commands that read images (cli.main applies it)."""
    p.add_argument("--max-decode-pixels", type=positive_int, metavar="N",
                   help="refuse images of more than N pixels before decoding them (default 300000000, "
                        "sized for a 24 GB machine)")
