"""Files the tool reads and writes: the one atomic writer, the one file hash, and the checks that
keep inputs safe (only regular files are read; no output is ever an input or inside a data set).

Every output goes through `atomic_path` / `atomic_write` / `write_bytes`: a temporary file in the
output's folder (a short hidden name, so it fits the file-name limit and folder listings skip it),
flushed, fsynced, then renamed. Without overwrite the final step is a hard link, which fails if the
output appeared meanwhile (a concurrent run); with overwrite only a regular file is replaced, never a
folder, a device node, a FIFO or a symbolic link. Temps are removed on error and, through the live
registry, on SIGINT/SIGTERM (cli.main turns both into exceptions).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
import stat
from pathlib import Path
from typing import IO, Iterable, Iterator

from .errors import IfanError

TEMP_PREFIX = ".ifan-tmp-"  # every temp starts with this: listings skip dot files, stale temps never count
_LIVE_TEMPS: set[str] = set()
_SUFFIX_MAX = 16  # keep the extension (FFmpeg/OpenCV choose the container by it), bounded in length


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link")):
        if test(mode):
            return name
    return "not a regular file"


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(require_regular_file(path), "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def require_regular_file(path: str | os.PathLike, what: str = "") -> Path:
    """The path, if it names a regular file (after symbolic links); else one-line IfanError. A FIFO,
    /dev/zero or a socket would hang or never end, so they are refused before any open."""
    path = Path(path)
    label = f"{what} {path}" if what else str(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise IfanError(f"{label}: no such file") from None
    except OSError as exc:
        raise IfanError(f"{label}: cannot read ({_why(exc)})") from None
    if not stat.S_ISREG(st.st_mode):
        raise IfanError(f"{label}: is {_kind(st.st_mode)}; only regular files are read")
    return path


def read_input_bytes(path: str | os.PathLike, what: str = "") -> bytes:
    """A regular file's bytes; opened non-blocking and checked again on the open descriptor, so a
    path swapped for a FIFO after the check cannot hang the run."""
    path = require_regular_file(path, what)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise IfanError(f"{path}: cannot read ({_why(exc)})") from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise IfanError(f"{path}: only regular files are read")
        try:
            return fh.read()
        except OSError as exc:
            raise IfanError(f"{path}: cannot read ({_why(exc)})") from None


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """One file under two names: equal resolved paths (symlinked folders), or the same device and
    inode (hard links, bind mounts)."""
    a, b = Path(a), Path(b)
    if a.resolve() == b.resolve():
        return True
    ia = _identity(a)
    return ia is not None and ia == _identity(b)


def is_inside(path: str | os.PathLike, folder: str | os.PathLike) -> bool:
    """The path is the folder or lies under it (resolved, and by identity of each ancestor)."""
    path, folder = Path(path).resolve(), Path(folder)
    folder_id = _identity(folder)
    for ancestor in (path, *path.parents):
        if ancestor == folder.resolve() or (folder_id is not None and _identity(ancestor) == folder_id):
            return True
    return False


def check_not_input(output: str | os.PathLike, inputs: Iterable[str | os.PathLike | None],
                    data_folders: Iterable[str | os.PathLike | None] = (), what: str = "output") -> None:
    """Refuse an output that is the same file as any input of the run, or that lies inside a data
    set's folders (an input folder the run reads from), with or without --overwrite."""
    output = Path(output)
    label = f"{what} {output}" if what != "output" else str(output)
    for item in inputs:
        if item is not None and same_file(output, item):
            alias = "" if str(item) == str(output) else f" (the same file as {item})"
            raise IfanError(f"{label}: is an input{alias}; choose another output (inputs are never overwritten)")
    for folder in data_folders:
        if folder is not None and Path(folder).is_dir() and is_inside(output, folder):
            raise IfanError(f"{label}: lies inside the input data {folder}; choose a folder outside it")


def check_output_file(path: str | os.PathLike, overwrite: bool = False, create_parent: bool = False,
                      what: str = "output") -> Path:
    """Everything that can be known before long work: the output is not a folder or a special file,
    does not exist unless overwrite, and its folder exists (or can be made) and is writable."""
    path = Path(path)
    label = f"{what} {path}" if what != "output" else str(path)
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):  # the folder check below says what is wrong
        st = None
    except OSError as exc:
        raise IfanError(f"{label}: cannot use ({_why(exc)})") from None
    if st is not None:
        if not stat.S_ISREG(st.st_mode):
            raise IfanError(f"{label}: is {_kind(st.st_mode)}; only regular files are replaced")
        if not overwrite:
            raise IfanError(f"{label}: exists; pass --overwrite to replace it")
    check_output_folder(path.parent, create=create_parent, label=label)
    return path


def check_output_folder(folder: str | os.PathLike, create: bool = True, label: str | None = None) -> Path:
    """A folder outputs can go to: an existing writable folder, or (create) one whose nearest
    existing ancestor is a writable folder. label: the output the message names."""
    folder = Path(folder)
    label = label or f"output folder {folder}"
    probe = folder
    while not probe.exists() and not probe.is_symlink():
        if not create and probe == folder:
            raise IfanError(f"{label}: no such folder {folder}")
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise IfanError(f"{label}: {probe} is a file, not a folder")
    if not probe.exists():
        raise IfanError(f"{label}: {probe} is a broken symbolic link")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise IfanError(f"{label}: folder {probe} is not writable")
    return folder


def is_temp(path: str | os.PathLike) -> bool:
    """A temp of the atomic writer (live or left by a killed run): never an input or an output."""
    return Path(path).name.startswith(TEMP_PREFIX)


def _temp_path(path: Path) -> Path:
    suffix = "".join(path.suffixes)[-_SUFFIX_MAX:] if path.suffix else ""
    if suffix and not suffix.startswith("."):
        suffix = path.suffix[-_SUFFIX_MAX:]
    return path.with_name(f"{TEMP_PREFIX}{secrets.token_hex(4)}{suffix}")


def remove_live_temps() -> None:
    """Remove every temp still being written (signal handlers, exit)."""
    for name in list(_LIVE_TEMPS):
        with contextlib.suppress(OSError):
            os.unlink(name)
        _LIVE_TEMPS.discard(name)


def _commit(tmp: Path, path: Path, overwrite: bool) -> None:
    if overwrite:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            st = None
        if st is not None and not stat.S_ISREG(st.st_mode):
            raise IfanError(f"{path}: is {_kind(st.st_mode)}; only regular files are replaced")
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)  # fails if the output appeared meanwhile: a concurrent run is never clobbered
    except FileExistsError:
        raise IfanError(f"{path}: appeared while this run wrote it (another run?); pass --overwrite "
                        "to replace it") from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.EXDEV):
            raise
        if os.path.lexists(path):  # no hard links on this file system: check, then rename
            raise IfanError(f"{path}: appeared while this run wrote it; pass --overwrite to replace it") from None
        os.rename(tmp, path)
        return
    os.unlink(tmp)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """A temp path beside `path` (same extension) for writers that want a file name (torch.onnx,
    cv2.VideoWriter); on success it is fsynced and renamed to `path`, on any failure removed."""
    path = Path(path)
    check_output_file(path, overwrite)
    tmp = _temp_path(path)
    _LIVE_TEMPS.add(str(tmp))
    try:
        yield tmp
        if not tmp.is_file():
            raise IfanError(f"{path}: the writer produced no file")
        _fsync(tmp)
        _commit(tmp, path, overwrite)
    except OSError as exc:
        raise IfanError(f"{path}: cannot write ({_why(exc)})") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        _LIVE_TEMPS.discard(str(tmp))


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, overwrite: bool = False, mode: str = "wb") -> Iterator[IO]:
    """A file object on a temp beside `path`; renamed to `path` once complete (see atomic_path)."""
    with atomic_path(path, overwrite) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())


def write_bytes(path: str | os.PathLike, data: bytes | str, overwrite: bool = False) -> None:
    """Write a whole file atomically (str is written as UTF-8)."""
    with atomic_write(path, overwrite) as fh:
        fh.write(data.encode() if isinstance(data, str) else data)
