"""`ifan serve` in a child process with the TensorRT and CUDA stand-ins installed before the CLI runs.

    python -m tests.helpers.serve_standin REPORT BINDINGS VERSION -- serve --engine E ...

BINDINGS is a comma-separated list of the CUDA bindings the stand-in offers (cuda-python, pycuda;
one left out counts as not installed), VERSION the TensorRT personality. When `ifan serve` returns
(SIGTERM), REPORT gets JSON: the exit code, each handler call as [handler id, thread name, executor id], the
binding each executor used, and what the stand-in GPU still holds (empty: nothing leaked)."""

from __future__ import annotations

import json
import sys
import threading


def main(argv: list[str]) -> int:
    import pytest

    from tests.helpers import fake_tensorrt

    report, bindings, version = argv[0], tuple(argv[1].split(",")), argv[2]
    cli_args = argv[argv.index("--") + 1:]
    mp = pytest.MonkeyPatch()
    trt = fake_tensorrt.install(mp, version, bindings=bindings)

    from ifan_trt.runtime.serving import serve

    calls: list = []  # list.append is atomic: safe from Triton's threads
    used: dict = {}
    answer = serve.ImageHandler.__call__

    def recorded(self, batch):
        calls.append([id(self), threading.current_thread().name, id(self.executor)])
        used[id(self)] = getattr(self.executor, "cuda_binding", None)
        return answer(self, batch)

    mp.setattr(serve.ImageHandler, "__call__", recorded)
    from ifan_trt.cli import main as cli_main

    code = cli_main(cli_args)
    with open(report, "w") as f:
        json.dump({"code": code, "calls": calls, "bindings": sorted(set(map(str, used.values()))),
                   "live": trt._gpu.live()}, f)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
