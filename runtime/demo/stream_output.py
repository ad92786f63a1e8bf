"""Where the demo's view can be streamed: a GStreamer pipeline that starts with `appsrc`, or
`rtp://HOST:PORT`, which sends Motion-JPEG over RTP/UDP with elements every GStreamer install has
(gst-plugins-good: jpegenc, rtpjpegpay, udpsink). Needs an OpenCV built with GStreamer."""

from __future__ import annotations

import re

import cv2
import numpy as np

from ifan_trt.errors import IfanError
from ifan_trt.opencv import GSTREAMER_FIX, opencv_build

RTP_CAPS = "application/x-rtp,media=video,encoding-name=JPEG,payload=26,clock-rate=90000"


def parse_rtp(text: str) -> tuple[str, int] | None:
    """("HOST", PORT) of rtp://HOST:PORT (HOST may be empty: rtp://:5000), else None."""
    match = re.fullmatch(r"rtp://([^:/]*):(\d{1,5})/?", text.strip(), re.IGNORECASE)
    if not match:
        return None
    port = int(match.group(2))
    if not 0 < port < 65536:
        raise IfanError(f"{text}: port {port} is not in 1..65535")
    return match.group(1), port


def rtp_send_pipeline(host: str, port: int, quality: int = 85) -> str:
    """appsrc -> Motion-JPEG RTP on UDP; sync=false: frames leave when the demo has them."""
    return (f"appsrc ! videoconvert ! video/x-raw,format=I420 ! jpegenc quality={quality} ! "
            f"rtpjpegpay ! udpsink host={host or '127.0.0.1'} port={port} sync=false")


def rtp_receive_pipeline(port: int, host: str = "") -> str:
    """The pipeline that receives rtp_send_pipeline's stream (for `ifan demo rtp://:PORT` and gst-launch)."""
    address = f" address={host}" if host else ""
    return (f'udpsrc port={port}{address} caps="{RTP_CAPS}" ! rtpjpegdepay ! jpegdec ! videoconvert ! '
            f"video/x-raw,format=BGR ! appsink drop=true max-buffers=1 sync=false")


def output_pipeline(text: str) -> str | None:
    """The GStreamer pipeline for a --stream value, or None when it is not a stream."""
    rtp = parse_rtp(text)
    if rtp is not None:
        return rtp_send_pipeline(*rtp)
    if text.strip().startswith("appsrc") and "!" in text:
        return text.strip()
    return None


class StreamWriter:
    """Frames (BGR uint8, one size) into a GStreamer pipeline that starts with appsrc."""

    def __init__(self, text: str, fps: float, size: tuple[int, int]):
        self.text, self.size = text, size
        pipeline = output_pipeline(text)
        if pipeline is None:
            raise IfanError(f"{text}: not a stream; --stream takes rtp://HOST:PORT or a GStreamer pipeline "
                            "starting with appsrc")
        if not opencv_build().gstreamer:
            raise IfanError(f"{text}: streaming needs an OpenCV built with GStreamer; {GSTREAMER_FIX}")
        h, w = size
        self.writer = cv2.VideoWriter(pipeline, cv2.CAP_GSTREAMER, 0, float(fps), (w, h), True)
        if not self.writer.isOpened():
            raise IfanError(f"{text}: GStreamer cannot open this output; check it with "
                            f"gst-launch-1.0 (videotestsrc in place of appsrc)")
        self.frames = 0

    def write(self, frame: np.ndarray) -> None:
        self.writer.write(np.ascontiguousarray(frame))
        self.frames += 1

    def commit(self) -> None:
        self.writer.release()

    abort = commit  # a stream has nothing to delete
