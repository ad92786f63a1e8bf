"""Where live frames come from: a camera index or /dev/videoN (V4L2), a Jetson CSI camera
(GStreamer nvarguscamerasrc), a GStreamer pipeline, an RTSP/HTTP URL, an RTP stream
(rtp://:PORT, as `--stream rtp://` sends it), or a video file.

A source is live (a camera, a network stream: when it stops, that is a failure, and the demo
reopens it) or finite (a file, or a pipeline that reads a file or has `num-buffers=`: its end is
the end of the demo). A GStreamer pipeline's first element is looked up before the pipeline is
opened: OpenCV waits forever on a pipeline whose source element does not exist.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2

from ifan_trt.errors import IfanError
from ifan_trt.opencv import GSTREAMER_FIX, opencv_build

from .stream_output import parse_rtp, rtp_receive_pipeline


@dataclass(frozen=True)
class Source:
    kind: str  # camera, v4l2, csi, gstreamer, rtp, url, file
    target: str | int  # what cv2.VideoCapture opens
    live: bool  # a live source reconnects when it drops; a file (or a finite pipeline) ends

    @property
    def label(self) -> str:
        """For messages: a pipeline string is too long to repeat."""
        return {"csi": "CSI camera", "gstreamer": "GStreamer pipeline", "file": str(self.target),
                "url": str(self.target), "rtp": "RTP stream"}.get(self.kind, f"{self.kind} {self.target}")

    @property
    def uses_gstreamer(self) -> bool:
        return self.kind in ("csi", "gstreamer", "rtp")


def csi_pipeline(sensor: int = 0, width: int = 1280, height: int = 720, fps: int = 30) -> str:
    """Jetson CSI camera through Argus: NVMM frames converted to BGR for OpenCV's appsink, which
    keeps only the newest buffer (no queue, bounded latency)."""
    return (f"nvarguscamerasrc sensor-id={sensor} ! "
            f"video/x-raw(memory:NVMM), width=(int){width}, height=(int){height}, framerate=(fraction){fps}/1 ! "
            f"nvvidconv ! video/x-raw, format=(string)BGRx ! videoconvert ! video/x-raw, format=(string)BGR ! "
            f"appsink drop=true max-buffers=1 sync=false")


def parse_source(text: str, width: int = 1280, height: int = 720, fps: int = 30) -> Source:
    text = text.strip()
    if re.fullmatch(r"\d+", text):
        return Source("camera", int(text), True)
    if re.fullmatch(r"/dev/video\d+", text):
        return Source("v4l2", text, True)
    match = re.fullmatch(r"csi(?::(\d+))?", text.lower())
    if match:
        return Source("csi", csi_pipeline(int(match.group(1) or 0), width, height, fps), True)
    if "!" in text:  # a GStreamer pipeline given verbatim (must end in appsink)
        return Source("gstreamer", text, not pipeline_is_finite(text))
    rtp = parse_rtp(text)
    if rtp is not None:
        return Source("rtp", rtp_receive_pipeline(rtp[1], rtp[0]), True)
    if re.match(r"(rtsp|rtsps|http|https|rtmp)://", text, re.IGNORECASE):
        return Source("url", text, True)
    path = Path(text)
    if not path.is_file():
        raise IfanError(f"{text}: no such video file, and not a camera (0, /dev/video0, csi, csi:1), "
                        "an RTSP/HTTP URL or a GStreamer pipeline")
    return Source("file", str(path), False)


# source elements that read something with an end (a file): the pipeline ends at its end of stream
FINITE_SOURCES = ("filesrc", "multifilesrc", "splitmuxsrc", "imagesequencesrc")

# where the source elements a pipeline commonly starts with come from (Debian/Ubuntu packages;
# JetPack installs NVIDIA's with nvidia-l4t-gstreamer)
ELEMENT_PACKAGES = {
    "nvarguscamerasrc": "NVIDIA's JetPack Argus camera plugin (nvidia-l4t-gstreamer, on a Jetson only)",
    "nvv4l2camerasrc": "NVIDIA's JetPack V4L2 camera plugin (nvidia-l4t-gstreamer, on a Jetson only)",
    "nvv4l2decoder": "NVIDIA's JetPack video decoder plugin (nvidia-l4t-gstreamer, on a Jetson only)",
    "v4l2src": "gstreamer1.0-plugins-good",
    "udpsrc": "gstreamer1.0-plugins-good",
    "rtspsrc": "gstreamer1.0-plugins-good",
    "souphttpsrc": "gstreamer1.0-plugins-good",
    "multifilesrc": "gstreamer1.0-plugins-good",
    "splitmuxsrc": "gstreamer1.0-plugins-good",
    "ximagesrc": "gstreamer1.0-plugins-good",
    "videotestsrc": "gstreamer1.0-plugins-base",
    "uridecodebin": "gstreamer1.0-plugins-base",
    "playbin": "gstreamer1.0-plugins-base",
    "tcpclientsrc": "gstreamer1.0-plugins-base",
    "appsrc": "gstreamer1.0-plugins-base",
    "filesrc": "GStreamer itself (libgstreamer1.0-0)",
    "fakesrc": "GStreamer itself (libgstreamer1.0-0)",
    "libcamerasrc": "gstreamer1.0-libcamera",
    "pipewiresrc": "gstreamer1.0-pipewire",
    "imagesequencesrc": "gstreamer1.0-plugins-bad",
    "srtsrc": "gstreamer1.0-plugins-bad",
}


def first_element(pipeline: str) -> tuple[str, dict[str, str]]:
    """The first element of a gst-launch pipeline description and its properties."""
    head = pipeline.split("!", 1)[0].strip()
    try:
        words = shlex.split(head)
    except ValueError:  # unbalanced quotes: GStreamer's parser will say so
        words = head.split()
    if not words:
        return "", {}
    props = dict(w.split("=", 1) for w in words[1:] if "=" in w)
    return words[0], props


def pipeline_is_finite(pipeline: str) -> bool:
    """Whether a pipeline ends by itself: it reads a file, or its source stops after num-buffers."""
    name, props = first_element(pipeline)
    buffers = props.get("num-buffers", "-1")
    return name in FINITE_SOURCES or (buffers.isdigit() and int(buffers) >= 0)


def gstreamer_has_element(name: str) -> bool | None:
    """Whether GStreamer's registry has the element (GObject introspection, else gst-inspect-1.0);
    None when neither can tell."""
    try:
        import gi

        gi.require_version("Gst", "1.0")
        from gi.repository import Gst

        Gst.init(None)
        return Gst.ElementFactory.find(name) is not None
    except (ImportError, ValueError):
        pass
    inspect = shutil.which("gst-inspect-1.0")
    if inspect is None:
        return None
    try:
        done = subprocess.run([inspect, name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.returncode == 0


def check_first_element(source: Source) -> None:
    """IfanError naming the missing source element of a pipeline and the package that has it."""
    name, _ = first_element(str(source.target))
    if not name or "/" in name or gstreamer_has_element(name) is not False:  # caps, or cannot tell
        return
    package = ELEMENT_PACKAGES.get(name)
    where = f"it comes with {package}" if package else f"install the GStreamer plugin that has it (gst-inspect-1.0 {name})"
    raise IfanError(f"{source.label}: GStreamer has no element '{name}'; {where}")


def gstreamer_available() -> bool:
    """Whether this OpenCV build has GStreamer (pip wheels do not; JetPack's OpenCV does)."""
    return opencv_build().gstreamer


def open_capture(source: Source, width: int | None = None, height: int | None = None,
                 fps: int | None = None) -> cv2.VideoCapture:
    """An opened capture, or IfanError saying why and what to do."""
    if source.uses_gstreamer:
        if not gstreamer_available():
            raise IfanError(f"{source.label}: this OpenCV was built without GStreamer; {GSTREAMER_FIX} "
                            "(or use a camera through V4L2: /dev/video0)")
        check_first_element(source)
        cap = cv2.VideoCapture(source.target, cv2.CAP_GSTREAMER)
    elif source.kind == "v4l2" and not Path(source.target).exists():
        raise IfanError(f"{source.target}: no such device; ls /dev/video* lists the cameras "
                        "(a Jetson CSI camera is csi or csi:N)")
    elif source.kind in ("camera", "v4l2") and sys.platform.startswith("linux"):
        cap = cv2.VideoCapture(source.target, cv2.CAP_V4L2)
    else:
        cap = cv2.VideoCapture(source.target)
    if not cap.isOpened():
        cap.release()
        hint = {"camera": "is the camera connected and free (not used by another program)?",
                "v4l2": "does the device exist and may this user read it (group video)?",
                "url": "is the stream reachable, and is the URL complete (credentials, path)?",
                "file": "OpenCV cannot decode this container or codec",
                }.get(source.kind, "check the pipeline with gst-launch-1.0")
        raise IfanError(f"{source.label}: cannot open it; {hint}")
    if source.kind in ("camera", "v4l2"):
        if width:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        if height:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        if fps:
            cap.set(cv2.CAP_PROP_FPS, fps)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the driver's queue would add latency
    return cap
