"""A one-slot mailbox between threads: the latest item wins. A producer never waits and never
builds a queue (bounded latency); every item replaced before it was taken is counted as dropped."""

from __future__ import annotations

import threading


class Mailbox:
    def __init__(self):
        self._cond = threading.Condition()
        self._item = None
        self._full = False
        self._closed = False
        self.dropped = 0

    def put(self, item) -> bool:
        """Leave `item` for the consumer; True when it replaced one never taken (a drop)."""
        with self._cond:
            replaced = self._full
            if replaced:
                self.dropped += 1
            self._item, self._full = item, True
            self._cond.notify()
            return replaced

    def get(self, timeout: float | None = None):
        """The latest item, or None on timeout or when closed and empty."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._full or self._closed, timeout):
                return None
            if not self._full:
                return None
            item, self._item, self._full = self._item, None, False
            return item

    def close(self) -> None:
        """No more items: consumers take what is left, then get None."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def discard(self) -> int:
        """Drop what is left (at shutdown) and count it; returns how many were discarded."""
        with self._cond:
            if self._full:
                self._item, self._full = None, False
                self.dropped += 1
                return 1
            return 0

    @property
    def closed(self) -> bool:
        with self._cond:
            return self._closed and not self._full
