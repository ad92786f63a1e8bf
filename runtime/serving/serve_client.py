"""The client side of `ifan serve`: the deblur job (`ifan deblur INPUT... --server URL`) sends each
image to a Triton server (tritonclient, HTTP or gRPC) with K requests in flight and writes the
results by the rules of a local run (atomic writes; a failed input goes to the job's policy)."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Callable
from urllib.parse import urlparse

from ifan_trt.errors import IfanError
from ifan_trt.log import get as get_logger
from ifan_trt.files import write_bytes
from ifan_trt.imageio import Image, encode_image, read_image
from ifan_trt.progress import Bars, bar

from .serve_protocol import MODELS, TENSOR, TRITON_TYPES, from_wire, model_for, to_wire, wait_until_ready

log = get_logger(__name__)

_SCHEMES = {"http": 8000, "grpc": 8001}
READY_WAIT_S = 60.0  # how long a client waits for a server whose models are still loading


def server_message(exc: Exception) -> str:
    """The server's reason in one line: our own error's text when the server raised one."""
    text = str(getattr(exc, "message", lambda: None)() or exc)
    found = re.findall(r"IfanError: ([^\n]+)", text)
    return found[-1].strip() if found else text.strip().splitlines()[0]


class RemoteModel:
    """One tritonclient client (per thread: the HTTP client is not thread-safe) to a server URL."""

    def __init__(self, url: str, timeout_s: float = 600.0, ready_wait_s: float = READY_WAIT_S, url_name: str = "url"):
        parsed = urlparse(url)
        if parsed.scheme not in _SCHEMES or not parsed.hostname:
            raise IfanError(f"{url_name} {url}: expected http://HOST[:PORT] or grpc://HOST[:PORT]")
        self.url, self.scheme = url, parsed.scheme
        self.address = f"{parsed.hostname}:{parsed.port or _SCHEMES[parsed.scheme]}"
        self.timeout_s, self.ready_wait_s = timeout_s, ready_wait_s
        self._local = threading.local()

    def _module_client(self):
        if not hasattr(self._local, "client"):
            try:
                if self.scheme == "http":
                    import tritonclient.http as module

                    client = module.InferenceServerClient(self.address, connection_timeout=self.timeout_s,
                                                          network_timeout=self.timeout_s)
                else:
                    import tritonclient.grpc as module

                    client = module.InferenceServerClient(self.address)
            except (ImportError, RuntimeError):  # tritonclient without its http/grpc extra raises RuntimeError
                raise IfanError(f"{self.url}: a server client needs tritonclient: "
                                "pip install 'tritonclient[http,grpc]'") from None
            self._local.client = (module, client)
        return self._local.client

    def _not_ready(self) -> list[str]:
        module, client = self._module_client()
        try:
            return [m for m in MODELS.values() if not client.is_model_ready(m)]
        except Exception as exc:  # connection refused, DNS, protocol: whatever the transport raises
            raise IfanError(f"{self.url}: no Triton server answers ({server_message(exc)}); "
                            "start one with `ifan serve`") from None

    def check_ready(self, say: Callable[[str], None] | None = None) -> None:
        """Return once the server's models are ready. A server that answers while its models
        are still loading (they load after Triton starts) is waited for, up to ready_wait_s,
        said once through `say` (default: the ifan logger)."""
        say = say or log.warning
        missing = wait_until_ready(self._not_ready, self.ready_wait_s, poll_s=0.2, on_wait=lambda missing: say(
            f"{self.url}: waiting up to {self.ready_wait_s:g} s for the model {', '.join(missing)} to load"))
        if missing:
            raise IfanError(f"{self.url}: the model {', '.join(missing)} is not ready after {self.ready_wait_s:g} s; "
                            "is the server `ifan serve`, and did it start (its log says why not)?")

    def deblur(self, image: Image) -> Image:
        """The server's result for one image, restored to the image's own format."""
        module, client = self._module_client()
        a = to_wire(image)[None]
        request = module.InferInput(TENSOR, list(a.shape), TRITON_TYPES[a.dtype])
        request.set_data_from_numpy(a)
        try:
            if self.scheme == "grpc":
                result = client.infer(model_for(a.dtype), [request], client_timeout=self.timeout_s)
            else:
                result = client.infer(model_for(a.dtype), [request])
        except Exception as exc:  # tritonclient's InferenceServerException, or the transport's own errors
            if isinstance(exc, OSError) or any(s in str(exc) for s in ("UNAVAILABLE", "DEADLINE_EXCEEDED")):
                raise IfanError(f"no answer from {self.url} ({server_message(exc)})") from None
            raise IfanError(f"the server refused it: {server_message(exc)}") from None
        out = result.as_numpy(TENSOR)
        if out is None or out.shape != a.shape or out.dtype != a.dtype:
            raise IfanError(f"the server answered {None if out is None else list(out.shape)}, expected {list(a.shape)}")
        return replace(image, rgb=from_wire(out[0], max_pixels=out[0].shape[0] * out[0].shape[1]).rgb)


def _one(model: RemoteModel, job, overwrite: bool) -> None:
    image = read_image(job.source)
    data = encode_image(model.deblur(image), job.target)
    job.target.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(job.target, data, overwrite=overwrite)


@dataclass(frozen=True)
class RemoteRun:
    """A run through a server: its URL, the requests in flight, whether outputs may be replaced
    (checked before the run), and how messages name the URL."""
    url: str
    concurrency: int = 4
    overwrite: bool = False
    url_name: str = "server"


def deblur_remote(run: RemoteRun, jobs, on_failure: Callable, progress: Bars | None = None) -> None:
    """Every image job through the server with run.concurrency requests in flight; a failed input
    goes to on_failure(job, exc) (the deblur job's policy); progress: a bar over several jobs
    (ifan_trt.progress)."""
    if run.concurrency < 1:
        raise IfanError(f"concurrency {run.concurrency}: must be >= 1")
    model = RemoteModel(run.url, url_name=run.url_name)
    model.check_ready()
    pool = ThreadPoolExecutor(run.concurrency)
    try:
        futures = {pool.submit(_one, model, job, run.overwrite): job for job in jobs}
        with bar(progress if len(jobs) > 1 else None, total=len(jobs), unit="img") as jobs_bar:
            for future, job in futures.items():
                try:
                    future.result()
                except Exception as exc:  # noqa: BLE001  on_failure re-raises what is not an expected failure
                    on_failure(job, exc)
                jobs_bar.update(1)
    finally:  # on Ctrl-C: drop the requests not sent yet, finish the K in flight (their writes are atomic)
        pool.shutdown(wait=False, cancel_futures=True)
