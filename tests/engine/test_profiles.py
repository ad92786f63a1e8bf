"""--shapes parsing and checks against the graph's static dimensions."""

from __future__ import annotations

import pytest

from ifan_trt.runtime.model_files.optimization_profiles import (DEFAULT_SHAPES, check_against_graph, parse_profile,
                                                                parse_profiles, profiles_to_sidecar)
from ifan_trt.errors import IfanError


def test_full_and_short_forms():
    p = parse_profile("min=1x3x256x256,opt=1x3x720x1280,max=2x3x1080x1920")
    assert (p.min, p.opt, p.max) == ((1, 3, 256, 256), (1, 3, 720, 1280), (2, 3, 1080, 1920))
    q = parse_profile(" MIN=256x256, opt=720x1280 ,max=1080x1920")
    assert q.min == (1, 3, 256, 256) and q.max == (1, 3, 1080, 1920)
    # trtexec's spelling: the input's name, then the shape; a shape alone is a static profile
    t = parse_profile("min=input:1x3x256x256,opt=input:1x3x720x1280,max=input:2x3x1080x1920")
    assert t == p
    s = parse_profile("input:2x3x720x1280")
    assert s.min == s.opt == s.max == (2, 3, 720, 1280)


def test_several_profiles_and_default():
    ps = parse_profiles(["min=64x64,opt=64x64,max=64x64", "min=256x256,opt=720x1280,max=1080x1920"])
    assert [p.opt for p in ps] == [(1, 3, 64, 64), (1, 3, 720, 1280)]
    (d,) = parse_profiles(None)
    assert d == parse_profile(DEFAULT_SHAPES)


@pytest.mark.parametrize("spec, message", [
    ("min=1x3x256x256,opt=1x3x720x1280", "missing max"),
    ("min=1x3x256x256;opt=1x3x720x1280;max=1x3x1080x1920", "expected min=NxCxHxW"),
    ("low=256x256,opt=720x1280,max=1080x1920", "got 'low=256x256'"),
    ("min=256x256,opt=720x1280,max=1080x1921", "multiples of 8"),
    ("min=1x1x256x256,opt=1x1x256x256,max=1x1x256x256", "3 channels"),
    ("min=1x3x256,opt=1x3x256,max=1x3x256", "expected BxCxHxW"),
    ("min=720x1280,opt=256x256,max=1080x1920", "min <= opt <= max"),
    ("min=256x256,min=256x256,opt=256x256,max=256x256", "min given twice"),
    ("min=0x3x256x256,opt=1x3x256x256,max=1x3x256x256", "positive"),
    ("min=abc,opt=1,max=2", "expected BxCxHxW"),
])
def test_clear_errors(spec, message):
    with pytest.raises(IfanError, match=message) as err:
        parse_profile(spec)
    assert str(err.value).startswith(f"--shapes {spec!r}") and "\n" not in str(err.value)


def test_static_dimensions_of_the_graph_are_enforced():
    ps = parse_profiles(["min=2x3x64x64,opt=2x3x64x64,max=2x3x64x64"])
    check_against_graph(ps, "input", ["batch", 3, "height", "width"])
    with pytest.raises(IfanError, match="input has a fixed dimension 0 of 1"):
        check_against_graph(ps, "input", [1, 3, None, None])
    with pytest.raises(IfanError, match="fixed dimension 2 of 720"):
        check_against_graph(ps, "input", ["batch", 3, 720, 1280])


def test_sidecar_profiles_in_the_runtime_format():
    ps = parse_profiles(["min=64x64,opt=128x128,max=256x256"])
    data = {"profiles": profiles_to_sidecar(ps, ["input", "left", "right"])}
    assert data["profiles"][0]["left"] == {"min": [1, 3, 64, 64], "opt": [1, 3, 128, 128], "max": [1, 3, 256, 256]}
    from ifan_trt.runtime.model_files.sidecar import sidecar_profiles

    (profile,) = sidecar_profiles(data)
    assert profile.ranges["input"] == ((1, 3, 64, 64), (1, 3, 128, 128), (1, 3, 256, 256))
