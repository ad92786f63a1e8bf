"""What a command shows of long work on stderr: the tiles of a large image (done / total) and
every step that runs longer than a few seconds (reading, running a whole frame, writing).

On a terminal these are transient tqdm bars, cleared when the work is done; elsewhere (a pipe, a
log file) nothing, unless --verbose asks for plain lines. --quiet hides them (its stderr is no
terminal). The library reports through the `tiles` and `step` calls of runtime.images.batch.Steps,
and draws counted bars (images, frames, models, runs) with the tqdm that `bars()` hands it
(ifan_trt.progress): library code and the Python API draw none unless given one.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time

DELAY = 3.0  # seconds: shorter steps show nothing


def bars(stream=None):
    """tqdm as the library's `progress` (ifan_trt.progress): transient bars on stderr, drawn only
    when it is a terminal."""
    import functools

    from tqdm import tqdm

    return functools.partial(tqdm, file=stream if stream is not None else sys.stderr, disable=None, leave=False,
                             dynamic_ncols=True)


class Progress:
    def __init__(self, prog: str, verbose: bool = False, stream=None, delay: float | None = None):
        self.prog, self.verbose = prog, verbose
        self.stream = stream if stream is not None else sys.stderr
        self.delay = DELAY if delay is None else delay
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._bar = None
        self._tiles_of = None
        self._last_line = 0.0
        self._lock = threading.Lock()

    @property
    def shown(self) -> bool:
        return self.tty or self.verbose

    def tiles(self, name: str, done: int, total: int) -> None:
        """After each run of tiles of image `name`."""
        if not self.shown:
            return
        with self._lock:
            if self.tty:
                if self._tiles_of != name:
                    self._close_bar()
                    from tqdm import tqdm

                    self._bar = tqdm(total=total, desc=name, unit="tile", leave=False, file=self.stream,
                                     delay=self.delay, dynamic_ncols=True)
                    self._tiles_of = name
                self._bar.update(done - self._bar.n)
                if done >= total:
                    self._close_bar()
                return
            now = time.monotonic()
            if self._tiles_of != name:
                self._tiles_of, self._last_line = name, now
            if done >= total or now - self._last_line >= self.delay:
                self._last_line = now
                print(f"{self.prog}: {name}: {done} of {total} tiles", file=self.stream, flush=True)

    @contextlib.contextmanager
    def step(self, text: str):
        """A step (`text`: what it does, e.g. "writing out.png"): shown once it has run `delay` s."""
        if not self.shown:
            yield
            return
        start, finished = time.monotonic(), threading.Event()
        shown: list = []
        watcher = threading.Thread(target=self._watch, args=(text, finished, shown), daemon=True)
        watcher.start()
        try:
            yield
        finally:
            finished.set()
            watcher.join()
            with self._lock:
                for bar in shown:
                    bar.close()
            if shown and not self.tty:
                print(f"{self.prog}: {text}: {time.monotonic() - start:.1f} s", file=self.stream, flush=True)

    def _watch(self, text: str, finished: threading.Event, shown: list) -> None:
        if finished.wait(self.delay):
            return
        with self._lock:
            if self._bar is not None:  # a tile bar already says what runs
                return
            if not self.tty:
                print(f"{self.prog}: {text} ...", file=self.stream, flush=True)
                shown.append(_NoBar())
                return
            from tqdm import tqdm

            shown.append(tqdm(total=None, desc=f"{self.prog}: {text}", bar_format="{desc} {elapsed}", leave=False,
                              file=self.stream, dynamic_ncols=True))
        while not finished.wait(1.0):
            with self._lock:
                shown[0].refresh()

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
        self._bar, self._tiles_of = None, None

    def close(self) -> None:
        with self._lock:
            self._close_bar()


class _NoBar:
    def close(self) -> None:
        pass

    def refresh(self) -> None:
        pass
