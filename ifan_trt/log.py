"""The one logger hierarchy, `ifan`: library code logs to `log.get(__name__)` (ifan.runtime.images.batch,
ifan.calib.prepare, ...) and never prints. Nothing reaches the terminal unless a program attaches a
handler: the `ifan` command does (`to_terminal`), with the level its --quiet / --verbose set, and
words each record `ifan CMD: warning: ...` / `ifan CMD: error: ...`. A Python user sees the
records through the standard logging module (`logging.basicConfig(level=logging.INFO)`)."""

from __future__ import annotations

import contextlib
import logging
from typing import Iterator, TextIO

ROOT = "ifan"
SKIPPED = "skipped"  # extra={"verdict": SKIPPED}: an input left out of a run (kept under --quiet)
SUMMARY = "summary"  # extra={"verdict": SUMMARY}: an error-level total (`N of M inputs failed`), worded bare

logging.getLogger(ROOT).addHandler(logging.NullHandler())  # the API never prints


def get(module: str) -> logging.Logger:
    """The logger of a module (pass __name__): ifan_trt.calib.prepare logs as ifan.calib.prepare."""
    parts = module.split(".")
    rest = parts[1:] if parts[0] == "ifan_trt" else parts
    return logging.getLogger(".".join([ROOT, *rest]))


class CommandFormatter(logging.Formatter):
    """Records as the command words them: information as it is, warnings and errors prefixed with
    the command (`ifan build: warning: ...`), skipped inputs as `ifan deblur: skipped ...`, an
    error-level total as `ifan deblur: 2 of 9 inputs failed`."""

    def __init__(self, prog: str):
        super().__init__()
        self.prog = prog

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        verdict = getattr(record, "verdict", None)
        if verdict == SUMMARY:
            return f"{self.prog}: {text}"
        if verdict:
            return f"{self.prog}: {verdict} {text}"
        if record.levelno >= logging.ERROR:
            return f"{self.prog}: error: {text}"
        if record.levelno >= logging.WARNING:
            return f"{self.prog}: warning: {text}"
        return text


def level_for(quiet: bool = False, verbose: bool = False) -> int:
    """--quiet: errors only; --verbose: debug records too; else information and warnings."""
    return logging.ERROR if quiet else logging.DEBUG if verbose else logging.INFO


@contextlib.contextmanager
def to_terminal(prog: str, level: int, stream: TextIO) -> Iterator[logging.Handler]:
    """Send the `ifan` records of level and above to stream, worded for prog, while the block runs."""
    logger = logging.getLogger(ROOT)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(CommandFormatter(prog))
    saved = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False  # an application's root handler would print each line twice
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
