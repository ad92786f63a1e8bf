"""Helpers for the serving tests: free ports, a real `ifan serve` process on 127.0.0.1, and test
images as they travel ([H, W, C] in RGB order) and as files."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

HOST = "127.0.0.1"


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind((HOST, 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class ServerProcess:
    """`ifan serve ARGS` as a child process; stopped with SIGTERM (then SIGKILL) at the end.
    launcher: what runs the CLI in place of `python -m ifan_trt.cli` (e.g. with stand-ins installed)."""

    def __init__(self, args: list[str], log: Path, ready_s: float | None = 150.0, launcher: list[str] | None = None,
                 env: dict | None = None):
        """ready_s: wait until the server is ready (None: return once it is started)."""
        self.http, self.grpc, self.metrics = free_ports(3)
        self.log = log
        cmd = [*(launcher or [sys.executable, "-m", "ifan_trt.cli"]), "serve", *args, "--host", HOST,
               "--http-port", str(self.http), "--grpc-port", str(self.grpc), "--metrics-port", str(self.metrics)]
        self._out = open(log, "w")
        self.proc = subprocess.Popen(cmd, stdout=self._out, stderr=subprocess.STDOUT, start_new_session=True,
                                     env=env)
        if ready_s is not None:
            self._wait_ready(ready_s)

    def _wait_ready(self, timeout_s: float) -> None:
        from ifan_trt.runtime.serving.serve_protocol import models_not_ready, wait_until_ready

        def not_ready() -> list[str]:  # both models, and the start line (it comes once Triton is up)
            return models_not_ready(HOST, self.http) + ([] if "ifan serve: " in self.output() else ["start line"])

        missing = wait_until_ready(not_ready, timeout_s, alive=lambda: self.proc.poll() is None, poll_s=0.5)
        if self.proc.poll() is not None:
            raise RuntimeError(f"ifan serve exited with {self.proc.returncode}:\n{self.output()}")
        if missing:
            self.stop()
            raise RuntimeError(f"ifan serve not ready after {timeout_s} s ({', '.join(missing)}):\n{self.output()}")

    def output(self) -> str:
        if not self._out.closed:
            self._out.flush()
        return self.log.read_text(errors="replace")

    def stop(self, timeout_s: float = 30.0) -> int:
        """SIGTERM, as a service manager sends it; the return code of the process."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._out.close()
        return self.proc.returncode


def make_array(h: int, w: int, channels: int, dtype, seed: int = 0) -> np.ndarray:
    """A smooth random image [H, W, C] in RGB(A) order (what goes over the wire)."""
    rng = np.random.default_rng(seed)
    small = rng.random((max(2, h // 8), max(2, w // 8), channels)).astype(np.float32)
    a = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC).reshape(h, w, channels)
    return np.round(np.clip(a, 0, 1) * np.iinfo(dtype).max).astype(dtype)


def write_test_image(path: Path, a: np.ndarray) -> Path:
    """The array as a file: gray, BGR or BGRA as OpenCV writes them."""
    c = a.shape[2]
    stored = a[:, :, 0] if c == 1 else (a[:, :, ::-1] if c == 3 else a[:, :, [2, 1, 0, 3]])
    assert cv2.imwrite(str(path), np.ascontiguousarray(stored))
    return path
