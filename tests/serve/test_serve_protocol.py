"""What travels between `ifan serve` and its clients, without a server: an image file read as
`ifan deblur` reads it, sent as [H, W, C] samples and decoded by the server, is the same image."""

from __future__ import annotations

import os
import sysconfig

import cv2
import numpy as np
import pytest

from ifan_trt.errors import IfanError
from ifan_trt.imageio import read_image, to_array
from ifan_trt.runtime.serving.serve import use_own_libpython
from ifan_trt.runtime.serving.serve_protocol import check_wire, from_wire, model_for, to_wire


def _stored(h, w, channels, dtype, seed=0):
    rng = np.random.default_rng(seed)
    shape = (h, w) if channels == 1 else (h, w, channels)
    return rng.integers(0, np.iinfo(dtype).max, shape, dtype=dtype, endpoint=True)


@pytest.mark.parametrize("channels, dtype, wire_c", [(1, np.uint8, 1), (3, np.uint16, 3), (4, np.uint8, 4),
                                                     (4, np.uint16, 4)],
                         ids=["gray8", "bgr16", "bgra8", "bgra16"])
def test_a_file_survives_the_trip_to_the_server(tmp_path, channels, dtype, wire_c):
    path = tmp_path / "x.png"
    assert cv2.imwrite(str(path), _stored(13, 17, channels, dtype))
    image = read_image(path)
    a = to_wire(image)
    assert a.shape == (13, 17, wire_c) and a.dtype == dtype
    back = from_wire(a)
    assert np.array_equal(back.rgb, image.rgb)  # what the network sees on the server = locally
    assert back.dtype == image.dtype and (image.alpha is None) == (back.alpha is None)
    assert np.array_equal(to_array(back), to_array(image))
    assert model_for(a.dtype) == ("ifan" if dtype == np.uint8 else "ifan_uint16")


def test_rgb_order_on_the_wire(tmp_path):
    bgr = np.zeros((4, 4, 3), np.uint8)
    bgr[..., 0] = 200  # blue in OpenCV's order
    cv2.imwrite(str(tmp_path / "blue.png"), bgr)
    assert to_wire(read_image(tmp_path / "blue.png"))[0, 0].tolist() == [0, 0, 200]


@pytest.mark.parametrize("array, message", [
    (np.zeros((4, 4, 3), np.float32), "sample type float32; send uint8 or uint16"),
    (np.zeros((4, 4), np.uint8), "2 dimensions [4, 4]; one image is [H, W, C]"),
    (np.zeros((4, 4, 2), np.uint8), "2 channels; send 1 (gray), 3 (RGB) or 4 (RGBA)"),
    (np.zeros((0, 4, 3), np.uint8), "empty (0x4)"),
    (np.zeros((30, 40, 3), np.uint8), "30x40 is 1200 pixels, above this server's budget of 1000"),
])
def test_what_is_not_an_image_is_refused(array, message):
    with pytest.raises(IfanError, match=r"^image: ") as refused:
        check_wire(array, max_pixels=1000)
    assert str(refused.value) == f"image: {message}"


def test_triton_children_load_this_interpreters_libpython(monkeypatch):
    libdir = sysconfig.get_config_var("LIBDIR")
    monkeypatch.setenv("LD_LIBRARY_PATH", f"/usr/lib/x86_64-linux-gnu:{libdir}:/opt/x")
    use_own_libpython()
    assert os.environ["LD_LIBRARY_PATH"].split(":") == [libdir, "/usr/lib/x86_64-linux-gnu", "/opt/x"]
