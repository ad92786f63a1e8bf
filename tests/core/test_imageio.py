"""Image files round-trip with their size, channels and bit depth; bad files are one-line errors."""

import io

import cv2
import numpy as np
import pytest

from ifan_trt.errors import IfanError
from ifan_trt.imageio import read_image, write_image
from ifan_trt.runtime.images.padding import official_crop, pad_to_multiple

rng = np.random.default_rng(0)


def _pixels(h, w, channels, dtype):
    top = 255 if dtype == np.uint8 else 65535
    shape = (h, w) if channels == 1 else (h, w, channels)
    return rng.integers(0, top + 1, size=shape).astype(dtype)


LOSSLESS = [(".png", np.uint8), (".png", np.uint16), (".tif", np.uint8), (".tif", np.uint16),
            (".bmp", np.uint8), (".webp", np.uint8)]


@pytest.mark.parametrize("ext,dtype", LOSSLESS)
@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("size", [(1, 1), (7, 13)])
def test_lossless_round_trip(tmp_path, ext, dtype, channels, size):
    if ext in (".bmp",) and channels == 4 or ext == ".webp" and channels == 1:
        pytest.skip(f"{ext} does not store {channels} channels in OpenCV")
    a = _pixels(*size, channels, dtype)
    src = tmp_path / f"in{ext}"
    assert cv2.imwrite(str(src), a)
    stored = cv2.imread(str(src), cv2.IMREAD_UNCHANGED)
    image = read_image(src)
    assert image.size == size and image.dtype == dtype and image.gray == (stored.ndim == 2)
    assert image.rgb.dtype == np.float32 and 0.0 <= image.rgb.min() and image.rgb.max() <= 1.0
    write_image(tmp_path / f"out{ext}", image)
    back = cv2.imread(str(tmp_path / f"out{ext}"), cv2.IMREAD_UNCHANGED)
    assert back.dtype == stored.dtype and back.shape == stored.shape
    np.testing.assert_array_equal(back, stored)


def test_jpeg_round_trip_within_compression(tmp_path):
    y, x = np.mgrid[0:32, 0:48]
    a = np.dstack([x * 5, y * 7, (x + y) * 3]).astype(np.uint8)  # smooth: JPEG's easy case
    cv2.imwrite(str(tmp_path / "a.jpg"), a, [cv2.IMWRITE_JPEG_QUALITY, 100])
    image = read_image(tmp_path / "a.jpg")
    write_image(tmp_path / "b.jpg", image)
    b = cv2.imread(str(tmp_path / "b.jpg"))
    assert b.shape == a.shape and np.abs(b.astype(int) - a.astype(int)).mean() < 2.0


def test_alpha_passes_through_untouched(tmp_path):
    a = _pixels(9, 11, 4, np.uint16)
    cv2.imwrite(str(tmp_path / "a.png"), a)
    image = read_image(tmp_path / "a.png")
    image.rgb[:] = 0.5  # as if the network changed the colours
    write_image(tmp_path / "b.png", image)
    b = cv2.imread(str(tmp_path / "b.png"), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(b[:, :, 3], a[:, :, 3])
    assert (b[:, :, :3] == 32768).all()


def test_grayscale_is_written_back_as_grayscale(tmp_path):
    a = _pixels(6, 5, 1, np.uint8)
    cv2.imwrite(str(tmp_path / "g.png"), a)
    image = read_image(tmp_path / "g.png")
    assert image.gray and image.rgb.shape == (6, 5, 3)
    np.testing.assert_array_equal(image.rgb[:, :, 0], image.rgb[:, :, 2])
    write_image(tmp_path / "o.png", image)
    assert cv2.imread(str(tmp_path / "o.png"), cv2.IMREAD_UNCHANGED).ndim == 2


def test_sixteen_bit_to_jpeg_becomes_eight_bit(tmp_path):
    a = _pixels(4, 4, 3, np.uint16)
    cv2.imwrite(str(tmp_path / "a.png"), a)
    write_image(tmp_path / "a.jpg", read_image(tmp_path / "a.png"))
    assert cv2.imread(str(tmp_path / "a.jpg"), cv2.IMREAD_UNCHANGED).dtype == np.uint8


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
@pytest.mark.parametrize("orientation,transform", [
    (3, lambda x: x[::-1, ::-1]), (6, lambda x: np.rot90(x, -1)), (8, lambda x: np.rot90(x, 1)),
    (2, lambda x: x[:, ::-1])])
def test_exif_orientation_is_applied_once(tmp_path, fmt, orientation, transform):
    from PIL import Image as PILImage

    a = np.zeros((20, 30, 3), np.uint8)
    a[:10, :15] = (255, 0, 0)  # a red top-left quadrant marks the orientation
    im = PILImage.fromarray(a)
    exif = im.getexif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    im.save(buf, fmt, exif=exif, **({"quality": 100} if fmt == "JPEG" else {}))
    (tmp_path / "o.img").write_bytes(buf.getvalue())
    got = read_image(tmp_path / "o.img").rgb
    expected = transform(a).astype(np.float32) / 255
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= (0 if fmt == "PNG" else 0.5)  # JPEG: chroma bleeds at the edge
    assert np.abs(got - expected).mean() <= (0 if fmt == "PNG" else 0.02)  # misoriented: ~0.15


@pytest.mark.parametrize("content,message", [
    (b"", "empty file"),
    (b"not an image at all", "not a readable image"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "not a readable image"),
])
def test_bad_files_are_one_line_errors(tmp_path, content, message):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(IfanError, match=f"bad.png: {message}"):
        read_image(path)


def test_truncated_png_is_an_error(tmp_path):
    ok, buf = cv2.imencode(".png", _pixels(64, 64, 3, np.uint8))
    (tmp_path / "cut.png").write_bytes(buf.tobytes()[: len(buf) // 2])
    with pytest.raises(IfanError, match="cut.png: not a readable image"):
        read_image(tmp_path / "cut.png")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(IfanError, match="nope.png: no such file"):
        read_image(tmp_path / "nope.png")
    with pytest.raises(IfanError, match="is a folder"):
        read_image(tmp_path)


def test_unsupported_output_format(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), _pixels(4, 4, 3, np.uint8))
    with pytest.raises(IfanError, match=r"out.gif: unsupported output format .gif"):
        write_image(tmp_path / "out.gif", read_image(tmp_path / "a.png"))
    assert not (tmp_path / "out.gif").exists()


@pytest.mark.parametrize("h,w", [(1, 1), (8, 8), (9, 17), (720, 1280)])
def test_padding_to_multiple_of_8(h, w):
    a = rng.random((h, w, 3), dtype=np.float32)
    p = pad_to_multiple(a)
    assert p.shape[0] % 8 == 0 and p.shape[1] % 8 == 0 and p.shape[0] - h < 8 and p.shape[1] - w < 8
    np.testing.assert_array_equal(p[:h, :w], a)
    np.testing.assert_array_equal(p[h:, :w], np.broadcast_to(a[-1:], p[h:, :w].shape))


def test_official_crop():
    a = np.zeros((21, 37, 3))
    assert official_crop(a).shape == (16, 32, 3)
    with pytest.raises(ValueError, match="5x37 image is smaller than 8x8"):
        official_crop(np.zeros((5, 37, 3)))
