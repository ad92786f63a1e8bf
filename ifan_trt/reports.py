"""The envelope every JSON report shares (`--json FILE` of eval, verify, audit, profile, benchmark,
inspect, build): the machine, the versions of what ran, the command line, then the report."""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys
import time
from importlib import metadata
from pathlib import Path

from . import __version__

_PACKAGES = ("numpy", "opencv-python-headless", "onnxruntime", "onnxruntime-gpu", "onnx", "torch",
             "tensorrt", "cuda-python", "pycuda")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict:
    """What a measurement depends on: OS, CPU, cores, load, Python."""
    info = {"os": f"{platform.system()} {platform.release()}", "arch": platform.machine(),
            "cpu": _cpu_model(), "cores": os.cpu_count(), "python": platform.python_version()}
    if hasattr(os, "getloadavg"):
        info["load_average_1m"] = round(os.getloadavg()[0], 2)
    return info


def versions() -> dict:
    """Installed versions (read from package metadata: nothing is imported)."""
    found = {"ifan-trt": __version__}
    for name in _PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


_COMMAND: list[str] = []  # set by the CLI for the run in progress


def set_command(argv: list[str]) -> None:
    _COMMAND[:] = list(argv)


def command_line(argv: list[str] | None = None) -> str:
    """The command of this run: as the CLI was given it, else the process's arguments."""
    argv = list(argv if argv is not None else (_COMMAND or sys.argv))
    if argv and Path(argv[0]).name == "ifan":
        argv[0] = "ifan"
    return shlex.join(argv)


def envelope(report: dict, command: str | None = None) -> dict:
    return {"machine": machine(), "versions": versions(), "command": command or command_line(),
            "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **report}


STDOUT = "-"  # --json -: the report goes to standard output


def to_stdout(path) -> bool:
    return path is not None and str(path) == STDOUT


def write_json(path: str | os.PathLike, report: dict, command: str | None = None) -> Path | None:
    """The report in its envelope, written atomically (path "-": on standard output)."""
    from .files import write_bytes

    text = json.dumps(envelope(report, command), indent=1, default=str) + "\n"
    if to_stdout(path):
        sys.stdout.write(text)
        sys.stdout.flush()
        return None
    write_bytes(path, text.encode(), overwrite=True)
    return Path(path)
