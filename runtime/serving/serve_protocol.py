"""What `ifan serve` and its clients exchange: one Triton model per sample type, each taking and
returning `image`, a batch of images [N, H, W, C] (C = 1 gray, 3 RGB, 4 RGBA; channels in RGB
order) in that type. Triton checks a request's data type against the model's, so 8- and 16-bit
images go to two models of the same network."""

from __future__ import annotations

import time
from typing import Callable, Iterable

import numpy as np

from ifan_trt.errors import IfanError
from ifan_trt.imageio import Image, to_array

TENSOR = "image"
MODELS = {np.dtype(np.uint8): "ifan", np.dtype(np.uint16): "ifan_uint16"}
TRITON_TYPES = {np.dtype(np.uint8): "UINT8", np.dtype(np.uint16): "UINT16"}
CHANNELS = (1, 3, 4)
DEFAULT_MAX_IMAGE_PIXELS = 64_000_000  # refused above: a 8000x8000 image; tiled inference below


def wire_dtype(image: Image) -> np.dtype:
    """The sample type an image travels in: its own for 8/16-bit, 16-bit for float images."""
    return np.dtype(image.dtype) if np.dtype(image.dtype) in MODELS else np.dtype(np.uint16)


def model_for(dtype: np.dtype) -> str:
    return MODELS[np.dtype(dtype)]


def to_wire(image: Image) -> np.ndarray:
    """The image as [H, W, C] RGB(A) samples: C = 1 for gray, 4 with alpha (gray+alpha as RGBA)."""
    a = to_array(image, wire_dtype(image))  # OpenCV order: gray, BGR or BGRA
    if a.ndim == 2:
        return np.ascontiguousarray(a[:, :, None])
    order = [2, 1, 0, 3][: a.shape[2]]
    return np.ascontiguousarray(a[:, :, order])


def check_wire(a: np.ndarray, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> None:
    """Refuse what is not an image the model can take, naming what is wrong."""
    if a.dtype not in MODELS:
        raise IfanError(f"image: sample type {a.dtype}; send uint8 or uint16")
    if a.ndim != 3:
        raise IfanError(f"image: {a.ndim} dimensions {list(a.shape)}; one image is [H, W, C]")
    h, w, c = a.shape
    if c not in CHANNELS:
        raise IfanError(f"image: {c} channels; send 1 (gray), 3 (RGB) or 4 (RGBA)")
    if h < 1 or w < 1:
        raise IfanError(f"image: empty ({h}x{w})")
    if h * w > max_pixels:
        raise IfanError(f"image: {h}x{w} is {h * w} pixels, above this server's budget of {max_pixels}")


def from_wire(a: np.ndarray, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> Image:
    """[H, W, C] samples as the pipeline's Image (as read_image makes it from a file)."""
    check_wire(a, max_pixels)
    scale = float(np.iinfo(a.dtype).max)
    c = a.shape[2]
    colour = np.repeat(a[:, :, :1], 3, axis=2) if c == 1 else a[:, :, :3]
    alpha = a[:, :, 3].copy() if c == 4 else None
    return Image(np.ascontiguousarray(colour, np.float32) / scale, a.dtype, c == 1, alpha)


def wait_until_ready(not_ready: Callable[[], list[str]], timeout_s: float, alive: Callable[[], bool] = lambda: True,
                     on_wait: Callable[[list[str]], None] | None = None, poll_s: float = 0.1) -> list[str]:
    """The one wait for a server's models (Triton answers before they load): poll not_ready() (the
    model names not ready yet) until it gives none, for at most timeout_s, or until alive() says
    the server is gone. on_wait(missing) is called once, when the first poll finds models loading.
    Returns the models still not ready ([]: all ready); the caller words the failure."""
    missing = not_ready()
    if not missing:
        return []
    if on_wait is not None:
        on_wait(missing)
    deadline = time.monotonic() + timeout_s
    while missing and alive() and time.monotonic() < deadline:
        time.sleep(min(poll_s, max(0.0, deadline - time.monotonic())))
        missing = not_ready()
    return missing


def models_not_ready(host: str, port: int, names: Iterable[str] = MODELS.values()) -> list[str]:
    """The names whose Triton readiness (GET /v2/models/NAME/ready over HTTP) is not 200; a server
    that does not answer yet has none ready."""
    import http.client

    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)  # where a local client reaches it
    waiting = []
    for name in names:
        try:
            connection = http.client.HTTPConnection(host, port, timeout=5)
            try:
                connection.request("GET", f"/v2/models/{name}/ready")
                ready = connection.getresponse().status == 200
            finally:
                connection.close()
        except OSError:
            ready = False
        if not ready:
            waiting.append(name)
    return waiting
