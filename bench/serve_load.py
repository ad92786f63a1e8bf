"""Load test of `ifan serve`: requests per second and latency percentiles against the number of
clients in flight. Starts its own server on 127.0.0.1 (free ports), sends a fixed number of
same-size requests per concurrency level from that many threads (tritonclient HTTP, one client
each), reads Triton's statistics for the batches it formed, stops the server, prints one table.

    python -m bench.serve_load                                 # bundled model, 128x128, 1/2/4/8 clients
    python -m bench.serve_load --size 720x1280 --requests 64 -- --engine m.engine --max-batch 8

Arguments after `--` go to `ifan serve` (model, --instances, --max-batch, --max-queue-delay-us).
Needs the serve extra. Only ever talks to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from ifan_trt.sizes import parse_size

HOST = "127.0.0.1"


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind((HOST, 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def start_server(serve_args: list[str], log: Path, timeout_s: float = 300.0):
    from ifan_trt.runtime.serving.serve_protocol import models_not_ready, wait_until_ready

    http, grpc, metrics = _free_ports(3)
    cmd = [sys.executable, "-m", "ifan_trt.cli", "serve", *serve_args, "--host", HOST, "--http-port", str(http),
           "--grpc-port", str(grpc), "--metrics-port", str(metrics)]
    proc = subprocess.Popen(cmd, stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)

    def not_ready() -> list[str]:  # the model, and the start line (it comes once Triton is up)
        return models_not_ready(HOST, http, ["ifan"]) + ([] if "ifan serve: " in log.read_text() else ["start line"])

    if not wait_until_ready(not_ready, timeout_s, alive=lambda: proc.poll() is None, poll_s=0.5):
        return proc, http
    proc.kill()
    sys.exit(f"serve_load: the server did not start:\n{log.read_text()}")


def _stats(http: int) -> tuple[int, int]:
    import tritonclient.http as httpclient

    s = httpclient.InferenceServerClient(f"{HOST}:{http}").get_inference_statistics("ifan")["model_stats"][0]
    return int(s["inference_count"]), int(s["execution_count"])


def run_level(http: int, image: np.ndarray, clients: int, requests: int) -> dict:
    """`requests` requests from `clients` threads; per-request latency in ms, wall-clock throughput."""
    import tritonclient.http as httpclient

    latencies: list[float] = []
    counter = iter(range(requests))
    lock = threading.Lock()

    def worker():
        client = httpclient.InferenceServerClient(f"{HOST}:{http}", network_timeout=600)
        request = httpclient.InferInput("image", [1, *image.shape], "UINT8")
        request.set_data_from_numpy(image[None])
        try:
            while True:
                with lock:
                    if next(counter, None) is None:
                        return
                start = time.perf_counter()
                client.infer("ifan", [request])
                with lock:
                    latencies.append((time.perf_counter() - start) * 1e3)
        finally:
            client.close()  # in its own thread: gevent's hub is per thread

    before = _stats(http)
    start = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    inferences, executions = (a - b for a, b in zip(_stats(http), before))
    p50, p90, p99 = np.percentile(latencies, [50, 90, 99])
    return {"clients": clients, "requests": len(latencies), "rps": len(latencies) / wall,
            "p50": p50, "p90": p90, "p99": p99, "batch": inferences / max(1, executions)}


def machine() -> str:
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or "unknown CPU"
    return f"{cpu}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start"


def table(rows: list[dict], title: str) -> str:
    lines = [title, "", "| clients | requests | req/s | p50 ms | p90 ms | p99 ms | mean batch |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['clients']} | {r['requests']} | {r['rps']:.2f} | {r['p50']:.0f} | {r['p90']:.0f} | "
              f"{r['p99']:.0f} | {r['batch']:.2f} |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    serve_args = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(prog="python -m bench.serve_load", description=__doc__.split("\n\n")[0])
    p.add_argument("--size", default="128x128", help="image HxW (default 128x128)")
    p.add_argument("--clients", default="1,2,4,8", help="concurrency levels (default 1,2,4,8)")
    p.add_argument("--requests", type=int, default=24, help="requests per level (default 24)")
    p.add_argument("--out", type=Path, help="also write the table to this markdown file")
    args = p.parse_args(argv)
    h, w = parse_size(args.size, "--size")
    image = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    with tempfile.TemporaryDirectory(prefix="serve_load_") as tmp:
        proc, http = start_server(serve_args, Path(tmp) / "serve.log")
        try:
            log = (Path(tmp) / "serve.log").read_text().splitlines()
            started = next(line for line in log if line.startswith("ifan serve: "))
            run_level(http, image, 1, 2)  # warm-up, not reported
            rows = [run_level(http, image, int(c), args.requests) for c in args.clients.split(",")]
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    title = (f"`ifan serve` load, {h}x{w} UINT8 RGB, {args.requests} requests per level, HTTP on 127.0.0.1; "
             f"{machine()}; server: {started.split('; ', 1)[1]}; serve args: {' '.join(serve_args) or '(defaults)'}")
    text = table(rows, title)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
