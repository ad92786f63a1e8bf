"""Optimisation profiles for `build_engine.py --shapes`: parsing and checking, no TensorRT.

One --shapes value is one profile: ``min=1x3x256x256,opt=1x3x720x1280,max=1x3x1080x1920``
(NxCxHxW) or the short ``min=256x256,opt=720x1280,max=1080x1920`` (batch 1, RGB). The option
is repeatable for several profiles. Every image input of the graph (``input``, and ``left`` /
``right`` for IFAN_dual) gets the same shapes.
"""

from __future__ import annotations

from dataclasses import dataclass

from ifan_trt.contract import SIZE_MULTIPLE
from ifan_trt.errors import IfanError
from ifan_trt.sizes import parse_tensor_shape

KEYS = ("min", "opt", "max")
DEFAULT_SHAPES = "min=1x3x256x256,opt=1x3x720x1280,max=1x3x1080x1920"

Shape = tuple[int, int, int, int]


@dataclass(frozen=True)
class ProfileShapes:
    min: Shape
    opt: Shape
    max: Shape

    def to_dict(self) -> dict:
        return {"min": list(self.min), "opt": list(self.opt), "max": list(self.max)}


def _dims(text: str, spec: str) -> Shape:
    """One profile shape: NxCxHxW, trtexec's input:NxCxHxW, or HxW (batch 1)."""
    return parse_tensor_shape(text, f"--shapes {spec!r}:", multiple=SIZE_MULTIPLE)


def parse_profile(spec: str) -> ProfileShapes:
    """'min=...,opt=...,max=...' -> ProfileShapes; one shape alone (e.g. trtexec's
    'input:1x3x720x1280') is a static profile, min = opt = max. A clear error otherwise."""
    parts = {}
    if "=" not in str(spec) and "," not in str(spec):
        shape = _dims(spec, spec)
        return ProfileShapes(shape, shape, shape)
    if ";" in str(spec):
        raise IfanError(f"--shapes {spec!r}: expected min=NxCxHxW,opt=NxCxHxW,max=NxCxHxW separated by commas")
    for item in str(spec).split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        key = key.strip().lower()
        if not sep or key not in KEYS:
            raise IfanError(f"--shapes {spec!r}: expected min=NxCxHxW,opt=NxCxHxW,max=NxCxHxW (or HxW), "
                            f"got {item.strip()!r}")
        if key in parts:
            raise IfanError(f"--shapes {spec!r}: {key} given twice")
        parts[key] = _dims(value, spec)
    missing = [k for k in KEYS if k not in parts]
    if missing:
        raise IfanError(f"--shapes {spec!r}: missing {', '.join(missing)} (need min, opt and max)")
    lo, opt, hi = parts["min"], parts["opt"], parts["max"]
    if not all(a <= b <= c for a, b, c in zip(lo, opt, hi)):
        raise IfanError(f"--shapes {spec!r}: need min <= opt <= max in every dimension")
    return ProfileShapes(lo, opt, hi)


def parse_profiles(specs: list[str] | None) -> list[ProfileShapes]:
    return [parse_profile(s) for s in (specs or [DEFAULT_SHAPES])]


def check_against_graph(profiles: list[ProfileShapes], name: str, dims: list) -> None:
    """Each profile must respect the graph's static dimensions (dims: ints, or str/None when dynamic)."""
    for index, p in enumerate(profiles):
        for key in KEYS:
            shape = getattr(p, key)
            for axis, (want, got) in enumerate(zip(dims, shape)):
                if isinstance(want, int) and want > 0 and want != got:
                    raise IfanError(f"--shapes profile {index} {key}={'x'.join(map(str, shape))}: "
                                    f"{name} has a fixed dimension {axis} of {want}")


def profiles_to_sidecar(profiles: list[ProfileShapes], inputs: list[str]) -> list[dict]:
    """The runtime's sidecar format: one {tensor: {min, opt, max}} per profile."""
    return [{name: p.to_dict() for name in inputs} for p in profiles]


def frame_layout(profiles: list[ProfileShapes]) -> list[ProfileShapes]:
    """The profiles of a uint8 model (`ifan export --io uint8`), whose input is the frame: each
    NxCxHxW given on the command line as the frame's NxHxWxC."""
    nhwc = lambda s: (s[0], s[2], s[3], s[1])
    return [ProfileShapes(nhwc(p.min), nhwc(p.opt), nhwc(p.max)) for p in profiles]
