"""The TensorRT executor's decisions that need no GPU: which optimisation profile serves a
shape, whether a shape fits, how big each buffer must be, whether the engine is static (CUDA graph
capture). The executor feeds these from the engine (or its sidecar) and only does the CUDA/TensorRT
calls itself, so all of this is tested on the CPU."""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

import numpy as np

from ifan_trt.errors import IfanError

from ifan_trt.runtime.interface.executor import ShapeLimits

Shape = tuple[int, ...]


@dataclass(frozen=True)
class TensorSpec:
    name: str
    is_input: bool
    dtype: np.dtype
    shape: Shape  # as the engine declares it; -1 marks a dynamic dimension


@dataclass(frozen=True)
class Profile:
    """One optimisation profile: (min, opt, max) shape per input tensor."""

    index: int
    ranges: dict[str, tuple[Shape, Shape, Shape]]

    def fits(self, name: str, shape: Shape) -> bool:
        lo, _, hi = self.ranges[name]
        return len(shape) == len(lo) and all(a <= s <= b for a, s, b in zip(lo, shape, hi))

    def describe(self, name: str) -> str:
        lo, opt, hi = self.ranges[name]
        dims = lambda s: "x".join(map(str, s))
        return f"profile {self.index}: {dims(lo)} .. {dims(hi)} (opt {dims(opt)})"


def is_static(tensors: list[TensorSpec], profiles: list[Profile] | None = None) -> bool:
    """One fixed shape per profile, so one CUDA graph can replay every run: no dynamic dimension
    declared, or every profile has min == max for every input (an engine built from a dynamic
    graph with `--shapes min=S,opt=S,max=S` still declares -1 for those dimensions)."""
    if all(d >= 0 for t in tensors for d in t.shape):
        return True
    return bool(profiles) and all(lo == hi for p in profiles for lo, _, hi in p.ranges.values())


def check_rank(tensors: list[TensorSpec], shapes: dict[str, Shape]) -> None:
    by_name = {t.name: t for t in tensors if t.is_input}
    for name, shape in shapes.items():
        if name not in by_name:
            raise IfanError(f"{name}: the engine has no such input (inputs: {', '.join(by_name)})")
        declared = by_name[name].shape
        if len(shape) != len(declared) or any(d >= 0 and d != s for d, s in zip(declared, shape)):
            raise IfanError(f"{name}: shape {list(shape)} does not match the engine's {list(declared)}")
    missing = set(by_name) - set(shapes)
    if missing:
        raise IfanError(f"the engine also needs the inputs {', '.join(sorted(missing))}")


def choose_profile(profiles: list[Profile], shapes: dict[str, Shape]) -> Profile:
    """The profile that accepts every input shape; among several, the one whose opt shape is the
    nearest (TensorRT tuned its tactics for opt). Raises with the accepted ranges otherwise."""
    fitting = [p for p in profiles if all(p.fits(n, s) for n, s in shapes.items())]
    if not fitting:
        name, shape = next(iter(shapes.items()))
        ranges = "; ".join(p.describe(name) for p in profiles)
        raise IfanError(f"{name}: shape {'x'.join(map(str, shape))} is outside every optimisation profile "
                        f"of the engine ({ranges}); use tiling (--tile) or rebuild the engine with a larger profile")

    def distance(p: Profile) -> int:
        return sum(abs(prod(p.ranges[n][1]) - prod(s)) for n, s in shapes.items())

    return min(fitting, key=lambda p: (distance(p), p.index))


def static_profiles(tensors: list[TensorSpec]) -> list[Profile]:
    """A static engine behaves as one profile whose min = opt = max = its shapes."""
    return [Profile(0, {t.name: (t.shape, t.shape, t.shape) for t in tensors if t.is_input})]


def max_input_shape(profiles: list[Profile], name: str) -> Shape:
    """Element-wise largest shape of an input over all profiles (what one buffer must hold)."""
    maxes = [p.ranges[name][2] for p in profiles]
    return tuple(max(dims) for dims in zip(*maxes))


def output_max_shape(output: TensorSpec, profiles: list[Profile], like: str = "input") -> Shape:
    """IFAN's output has its input's shape ([B,3,H,W]); static outputs are what they declare."""
    if all(d >= 0 for d in output.shape):
        return output.shape
    return max_input_shape(profiles, like)


def plan_buffers(tensors: list[TensorSpec], profiles: list[Profile]) -> dict[str, int]:
    """Bytes per I/O tensor for the largest shape any profile allows: allocated once, reused."""
    sizes = {}
    for t in tensors:
        shape = max_input_shape(profiles, t.name) if t.is_input else output_max_shape(t, profiles)
        sizes[t.name] = prod(shape) * np.dtype(t.dtype).itemsize
    return sizes


def shape_limits(profiles: list[Profile], name: str = "input") -> ShapeLimits:
    """What the pipeline may send: the union of the profiles' [B,3,H,W] ranges for `name`."""
    lows = [p.ranges[name][0] for p in profiles]
    highs = [p.ranges[name][2] for p in profiles]
    return ShapeLimits(min_batch=min(s[0] for s in lows), max_batch=max(s[0] for s in highs),
                       min_hw=(min(s[2] for s in lows), min(s[3] for s in lows)),
                       max_hw=(max(s[2] for s in highs), max(s[3] for s in highs)))


def max_batch(profiles: list[Profile], h: int, w: int, name: str = "input") -> int:
    """The largest batch of H x W inputs some profile accepts (0 if none does)."""
    best = 0
    for p in profiles:
        lo, _, hi = p.ranges[name]
        if lo[2] <= h <= hi[2] and lo[3] <= w <= hi[3]:
            best = max(best, hi[0])
    return best


def frames_as_nchw(profiles: list[Profile], name: str = "input") -> list[Profile]:
    """The profiles of a uint8 engine (frames: [B,H,W,3]) with `name`'s ranges as [B,3,H,W], so
    that shape_limits and max_batch speak of heights and widths as for a float engine."""
    nchw = lambda s: (s[0], s[3], s[1], s[2])
    return [Profile(p.index, {**p.ranges, name: tuple(nchw(s) for s in p.ranges[name])}) for p in profiles]
