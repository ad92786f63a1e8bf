"""The one size parser: HxW everywhere (rows first), BxCxHxW shapes, trtexec's name:shape form."""

import pytest

from ifan_trt.errors import IfanError
from ifan_trt.sizes import parse_model_size, parse_size, parse_tensor_shape


def test_sizes_are_rows_first():
    assert parse_size("384x512", "--size") == (384, 512)
    assert parse_size(" 720 X 1280 ", "--shape") == (720, 1280)
    assert parse_size("96", "--tile", square_ok=True) == (96, 96)


@pytest.mark.parametrize("text, option, kwargs, message", [
    ("512", "--size", {}, "--size '512': expected HxW"),
    ("axb", "--scene", {}, "--scene 'axb': expected HxW"),
    ("8x8", "--size", {"minimum": 16}, "--size 8x8: height and width must be at least 16"),
    ("720x1281", "--shape", {"multiple": 8}, "--shape 720x1281: height and width must be multiples of 8"),
    ("0x64", "--tile", {"minimum": 8}, "--tile 0x64: height and width must be at least 8"),
])
def test_size_errors_name_the_option(text, option, kwargs, message):
    with pytest.raises(IfanError) as err:
        parse_size(text, option, **kwargs)
    assert str(err.value).startswith(message)


def test_model_size_needs_multiples_of_eight():
    assert parse_model_size("64x72") == (64, 72)
    with pytest.raises(IfanError, match="^size 4x8: height and width must be at least 8$"):
        parse_model_size("4x8")


def test_tensor_shapes():
    assert parse_tensor_shape("1x3x720x1280", "--shape") == (1, 3, 720, 1280)
    assert parse_tensor_shape("720x1280", "--shape") == (1, 3, 720, 1280)
    assert parse_tensor_shape("input:2x3x64x64", "--shapes") == (2, 3, 64, 64)
    with pytest.raises(IfanError, match="IFAN inputs have 3 channels"):
        parse_tensor_shape("1x1x64x64", "--shape")
    with pytest.raises(IfanError, match="expected BxCxHxW"):
        parse_tensor_shape("1x3x64", "--shape")
    with pytest.raises(IfanError, match="every dimension must be positive"):
        parse_tensor_shape("0x3x64x64", "--shape")
