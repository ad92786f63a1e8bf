"""Which OpenCV is imported and what it can do. The system's build (JetPack's, Debian's
python3-opencv) has GStreamer and a GUI; pip's opencv-python-headless has neither, and installed
into the same environment it shadows the system build, so it is an extra, not a dependency."""

from __future__ import annotations

import re
from dataclasses import dataclass

INSTALL_FIX = ("install OpenCV: pip install 'ifan-trt[opencv]' (desktop), or on a Jetson JetPack's OpenCV "
               "(apt install python3-opencv) in a venv made with --system-site-packages")


def import_failure(exc: ImportError) -> str | None:
    """The one-line message for an ImportError that means "no usable cv2", else None."""
    text = str(exc)
    if getattr(exc, "name", None) == "cv2" or "No module named 'cv2'" in text:
        return f"cannot import OpenCV (cv2); {INSTALL_FIX}"
    if "numpy.core.multiarray failed to import" in text or "compiled using NumPy 1.x" in text:
        return ("OpenCV cannot be imported: it was built against NumPy 1.x and NumPy 2 is installed; "
                "pip install 'numpy<2' in this environment (the system OpenCV needs the system's NumPy)")
    return None


@dataclass(frozen=True)
class OpenCVBuild:
    version: str
    path: str
    gstreamer: bool
    gui: str  # "NONE", or the toolkit (QT5, GTK3, ...)

    @property
    def has_gui(self) -> bool:
        return self.gui.upper() not in ("NONE", "")

    def describe(self) -> str:
        return (f"OpenCV {self.version} ({self.path}): GStreamer {'yes' if self.gstreamer else 'no'}, "
                f"GUI {self.gui if self.has_gui else 'none'}")


def parse_build_information(info: str, version: str = "", path: str = "") -> OpenCVBuild:
    """The facts the demo needs from cv2.getBuildInformation()'s text."""
    gst = re.search(r"^\s*GStreamer:\s*(\S+)", info, re.MULTILINE)
    gui = re.search(r"^\s*GUI:\s*(\S+)", info, re.MULTILINE)
    return OpenCVBuild(version=version, path=path, gstreamer=bool(gst) and gst.group(1).upper() != "NO",
                       gui=gui.group(1) if gui else "NONE")


def opencv_build() -> OpenCVBuild:
    import cv2

    return parse_build_information(cv2.getBuildInformation(), cv2.__version__, getattr(cv2, "__file__", "") or "")


GSTREAMER_FIX = ("pip's opencv-python wheels lack it: use the system's OpenCV (JetPack's, or apt install "
                 "python3-opencv) in a venv made with --system-site-packages, without the opencv extra")
GUI_FIX = ("run with --headless --record out.mp4, or use an OpenCV with a GUI: the system's, or pip's "
           "opencv-python in place of opencv-python-headless")
