"""The hostile corpus: crafted files (pickles that would run code, malformed checkpoints, lying image
headers, special files) and the sandbox every case runs in.

A case runs `ifan_trt.cli.main(argv)` in-process inside a fresh folder; the sandbox snapshots the
sha256 of every file before the run and checks afterwards that no pre-existing file changed or
vanished, that no temp of the atomic writer is left, that nothing new appeared under a final name
except what the case allows, and that the pickle payload's marker file was never created.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import pickle
import stat
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ifan_trt.files import is_temp

MARKER = "PWNED"  # what a payload would create: its existence means code ran


class Payload:
    """Unpickling this calls open(MARKER, "w"): a harmless stand-in for arbitrary code."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


# ---------------------------------------------------------------- files


def image(path: Path, h: int = 16, w: int = 16, channels: int = 3, dtype=np.uint8, seed: int = 0) -> Path:
    top = 255 if dtype == np.uint8 else 65535
    rng = np.random.default_rng(seed)
    a = rng.integers(0, top + 1, size=(h, w, channels) if channels > 1 else (h, w)).astype(dtype)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), a)
    return path


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def lying_png(path: Path, w: int = 100000, h: int = 100000, channels_code: int = 2) -> Path:
    """A 70-byte PNG whose header claims w x h pixels (IDAT far too short)."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, channels_code, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0" * 8))
                     + _chunk(b"IEND", b""))
    return path


def lying_bmp(path: Path, w: int = 60000, h: int = 60000) -> Path:
    header = b"BM" + struct.pack("<IHHI", 54 + 16, 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, 16, 2835, 2835, 0, 0)
    path.write_bytes(header + info + b"\0" * 16)
    return path


def truncated(path: Path, source: Path, keep: float = 0.5) -> Path:
    data = source.read_bytes()
    path.write_bytes(data[: max(1, int(len(data) * keep))])
    return path


def pil_image(path: Path, mode: str = "RGB", size=(24, 16), frames: int = 1, exif_orientation: int | None = None,
              **save) -> Path:
    from PIL import Image

    rng = np.random.default_rng(3)
    channels = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4, "CMYK": 4}[mode]
    def one(i):
        a = rng.integers(0, 256, size=(size[1], size[0], channels)).astype(np.uint8)
        return Image.fromarray(a[..., 0] if channels == 1 else a, mode)
    ims = [one(i) for i in range(frames)]
    if exif_orientation is not None:
        exif = ims[0].getexif()
        exif[0x0112] = exif_orientation
        save["exif"] = exif
    if frames > 1:
        save.update(save_all=True, append_images=ims[1:])
    ims[0].save(path, **save)
    return path


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def video(path: Path, frames: int = 6, size=(16, 24), fps: float = 10.0) -> Path:
    fourcc = "mp4v" if path.suffix == ".mp4" else "MJPG"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (size[1], size[0]))
    assert writer.isOpened()
    rng = np.random.default_rng(5)
    for _ in range(frames):
        writer.write(rng.integers(0, 256, (*size, 3)).astype(np.uint8))
    writer.release()
    return path


def damaged_video(path: Path, frames: int = 12) -> Path:
    """An mp4 whose index claims every frame but whose middle is zeroed: only a few decode."""
    video(path, frames)
    data = bytearray(path.read_bytes())
    a, b = len(data) // 4, len(data) // 2
    data[a:b] = bytes(b - a)
    path.write_bytes(bytes(data))
    return path


# ---------------------------------------------------------------- model files


def ours(model, **override) -> dict:
    """Our checkpoint payload with fields replaced (a malformed variant)."""
    payload = {"format": "ifan-trt", "format_version": 1, "config": model.config.to_dict(),
               "state_dict": {k: v.detach().clone() for k, v in model.state_dict().items()}, "meta": {}}
    for key, value in override.items():
        if value is _DROP:
            payload.pop(key, None)
        else:
            payload[key] = value
    return payload


_DROP = object()
DROP = _DROP


def torch_file(path: Path, obj) -> Path:
    import torch

    torch.save(obj, path)
    return path


def raw_pickle(path: Path, obj) -> Path:
    path.write_bytes(pickle.dumps(obj))
    return path


def onnx_with_metadata(path: Path, meta: dict[str, str], static: tuple[int, int] | None = None) -> Path:
    """input -> Identity -> output with ifan.* metadata (what the runtime validates)."""
    import onnx
    from onnx import TensorProto, helper

    dims = ["B", 3, *(static or ("H", "W"))]
    graph = helper.make_graph([helper.make_node("Identity", ["input"], ["output"])], "g",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, dims)],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, dims)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    for k, v in meta.items():
        model.metadata_props.add(key=k, value=v)
    onnx.save(model, str(path))
    return path


GOOD_META = {"ifan.variant": "IFAN_2_ch8", "ifan.n_iters": "2", "ifan.dual": "false", "ifan.in_bit": "8",
             "ifan.iac_mode": "official", "ifan.size_multiple": "8", "ifan.normalization": "rgb/255",
             "ifan.iac_form": "onnx"}


# ---------------------------------------------------------------- the sandbox


def _entry(path: Path):
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        return ("link", os.readlink(path))
    if stat.S_ISREG(st.st_mode):
        return ("file", hashlib.sha256(path.read_bytes()).hexdigest())
    if stat.S_ISDIR(st.st_mode):
        return ("dir", None)
    return ("special", st.st_mode)


def snapshot(root: Path) -> dict[str, tuple]:
    tree = {}
    for folder, dirs, names in os.walk(root):  # does not follow symbolic links to folders
        for name in dirs + names:
            path = Path(folder) / name
            tree[str(path.relative_to(root))] = _entry(path)
    return tree


RUN_SUMMARY = re.compile(r"^ifan [a-z-]+: (?!error: |skipped |warning: )\S.* on (torch|onnxruntime-\w+|tensorrt)\b[^:]*( \(\w[\w-]*\))?(;.*)?$")


@dataclass
class Result:
    code: int
    out: str
    err: str
    before: dict
    after: dict

    @property
    def err_lines(self) -> list[str]:
        """The message lines on stderr, less the one line every run says about what ran
        (`ifan deblur: MODEL on BACKEND PRECISION`, runtime.executors.backends.run_summary)."""
        return [line for line in self.err.splitlines() if line.strip() and not RUN_SUMMARY.match(line)]

    @property
    def new(self) -> set[str]:
        return {k for k, v in self.after.items() if k not in self.before and v[0] != "dir"}


def check_invariants(result: Result, root: Path, allowed_new: set[str] = frozenset()) -> None:
    """What holds for every case: no traceback, no changed or vanished input, no temp, no code run,
    nothing new under a final name except what the case expects."""
    assert "Traceback" not in result.err and "Traceback" not in result.out, result.err
    for name, entry in result.before.items():
        assert result.after.get(name) == entry, f"{name} changed or vanished: {entry} -> {result.after.get(name)}"
    temps = [k for k in result.after if is_temp(k) and k not in result.before]
    assert not temps, f"temps left: {temps}"
    assert not (root / MARKER).exists() and not any(k.endswith(MARKER) for k in result.after), "the payload ran"
    unexpected = result.new - set(allowed_new)
    assert not unexpected, f"unexpected new files: {sorted(unexpected)}"


def error_line(result: Result, command: str, *fragments: str, code: int = 1) -> str:
    """Exactly one line `ifan CMD: error: ...` holding every fragment (a path or an option)."""
    assert result.code == code, (result.code, result.err)
    lines = result.err_lines
    assert len(lines) == 1, lines
    line = lines[0]
    assert line.startswith(f"ifan {command}: error: ") or (command == "" and line.startswith("ifan: error: ")), line
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    return line


def read_back(path: Path):
    """An output must be complete and valid: decodable by OpenCV."""
    a = cv2.imdecode(np.frombuffer(Path(path).read_bytes(), np.uint8), cv2.IMREAD_UNCHANGED)
    assert a is not None, f"{path}: not a valid image"
    return a


def bytes_of(obj) -> bytes:
    buf = io.BytesIO()
    pickle.dump(obj, buf)
    return buf.getvalue()
