"""How library code shows long work: it takes `progress`, a function called like tqdm
(`progress(iterable=None, total=..., desc=..., unit=...)`, returning a bar that iterates,
counts with `update(n)`, closes and is a context manager), and draws nothing when it is None
(the default of every library function and of the Python API). The commands pass tqdm through
ifan_trt/commands/progress.py (`bars`); library code never imports tqdm itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

Bars = Callable[..., Any]  # tqdm.tqdm, or anything called and used the same way


class _Silent:
    """A bar that draws nothing: the same calls as tqdm's."""

    def __init__(self, iterable: Iterable | None):
        self._iterable = iterable
        self.n = 0

    def __iter__(self):
        return iter(self._iterable if self._iterable is not None else ())

    def update(self, n: int = 1) -> None:
        self.n += n

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def bar(progress: Bars | None, iterable: Iterable | None = None, *, total: int | None = None,
        desc: str | None = None, unit: str = "it"):
    """A bar from `progress` (None or False: one that draws nothing)."""
    if not progress:
        return _Silent(iterable)
    if not callable(progress):
        raise TypeError(f"progress: expected None or a tqdm-like callable, got {progress!r}")
    return progress(iterable, total=total, desc=desc, unit=unit)
