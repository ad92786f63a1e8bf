"""The one parser of sizes and shapes on the command line.

An image size is always HxW (rows first) everywhere: --shape, --size, --tile, --scene. A tensor
shape is BxCxHxW; trtexec's `input:1x3xHxW` form is accepted too (the name is dropped). Every
error names the option and shows an example.
"""

from __future__ import annotations

import re

from ifan_trt.contract import SIZE_MULTIPLE
from ifan_trt.errors import IfanError

_DIMS = re.compile(r"^\s*(\d+(?:\s*x\s*\d+)*)\s*$", re.IGNORECASE)


def _ints(text: str, option: str, example: str) -> list[int]:
    m = _DIMS.match(str(text))
    if not m:
        raise IfanError(f"{option} {text!r}: expected {example}")
    return [int(v) for v in re.split(r"\s*x\s*", m.group(1).lower())]


def parse_size(text: str, option: str, *, multiple: int = 1, minimum: int = 1,
               square_ok: bool = False) -> tuple[int, int]:
    """'HxW' -> (H, W); both at least minimum and multiples of multiple. With square_ok one
    number N means NxN."""
    example = f"HxW, e.g. {max(minimum, 256) // multiple * multiple}x{max(minimum, 384) // multiple * multiple}"
    dims = _ints(text, option, example)
    if square_ok and len(dims) == 1:
        dims *= 2
    if len(dims) != 2:
        raise IfanError(f"{option} {text!r}: expected {example}")
    check_size(tuple(dims), option, multiple=multiple, minimum=minimum)
    return dims[0], dims[1]


def check_size(hw: tuple[int, int], what: str, *, multiple: int = 1, minimum: int = 1) -> None:
    h, w = hw
    if h < minimum or w < minimum:
        raise IfanError(f"{what} {h}x{w}: height and width must be at least {minimum}")
    if h % multiple or w % multiple:
        raise IfanError(f"{what} {h}x{w}: height and width must be multiples of {multiple}; "
                        "pad the image, the runtime crops back")


def parse_model_size(text: str, option: str = "size") -> tuple[int, int]:
    """An HxW the network takes as it is: positive multiples of the size multiple (8)."""
    return parse_size(text, option, multiple=SIZE_MULTIPLE, minimum=SIZE_MULTIPLE)


def parse_tensor_shape(text: str, option: str, *, channels: int | None = 3,
                       multiple: int = 1) -> tuple[int, int, int, int]:
    """'BxCxHxW', trtexec's 'name:BxCxHxW', or 'HxW' (batch 1, the given channels)."""
    body = str(text).split(":", 1)[1] if ":" in str(text) else str(text)
    example = "BxCxHxW, e.g. 1x3x720x1280 (or HxW)"
    dims = _ints(body, option, example)
    if len(dims) == 2 and channels is not None:
        dims = [1, channels, *dims]
    if len(dims) != 4:
        raise IfanError(f"{option} {text!r}: expected {example}")
    if min(dims) < 1:
        raise IfanError(f"{option} {text!r}: every dimension must be positive")
    if channels is not None and dims[1] != channels:
        raise IfanError(f"{option} {text!r}: IFAN inputs have {channels} channels (RGB), not {dims[1]}")
    check_size((dims[2], dims[3]), option, multiple=multiple)
    return tuple(dims)  # type: ignore[return-value]


_BYTES = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)


def parse_bytes(text: str, option: str, minimum: int = 1 << 20) -> int:
    """A memory size: '512M', '4G', '1.5g', a plain number in MiB -> bytes, at least minimum."""
    m = _BYTES.match(str(text))
    if not m:
        raise IfanError(f"{option} {text!r}: expected a size such as 512M or 4G")
    value, unit = float(m.group(1)), (m.group(2) or "m").lower()
    size = int(value * {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[unit])
    if size < minimum:
        raise IfanError(f"{option} {text}: at least {minimum >> 20}M")
    return size
