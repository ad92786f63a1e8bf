"""Pure logic of the benchmark report: statistics, memory readings, ratios, the table, targets.

Nothing here runs a model; tests/bench/ checks it quickly.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

MiB = 1 << 20


def median_seconds(times: list[float]) -> float:
    if not times:
        raise ValueError("no timed runs")
    return statistics.median(times)


def parse_vmhwm(status_text: str) -> int:
    """Peak resident set size in bytes from the text of /proc/<pid>/status (line 'VmHWM: N kB')."""
    for line in status_text.splitlines():
        if line.startswith("VmHWM:"):
            value, unit = line.split()[1:3]
            if unit != "kB":
                raise ValueError(f"unexpected VmHWM unit {unit!r}")
            return int(value) * 1024
    raise ValueError("no VmHWM line in the status text")


def maxrss_bytes(ru_maxrss: int) -> int:
    """getrusage's ru_maxrss is in kilobytes on Linux."""
    return int(ru_maxrss) * 1024


def psnr(reference, test, data_range: float = 1.0) -> float:
    """PSNR in dB between two arrays of the same shape (inf when identical)."""
    import numpy as np

    mse = float(np.mean((np.asarray(reference, np.float64) - np.asarray(test, np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(data_range ** 2 / mse)


@dataclass
class Row:
    """One measured configuration. seconds: median; rss: peak RSS of its process in bytes;
    base: the id (key@size) of the row its ratios and difference are against."""

    key: str
    label: str
    size: str
    seconds: float = 0.0
    rss: int = 0
    base: str = ""
    max_abs_diff: float | None = None
    extra: dict = field(default_factory=dict)
    error: str = ""

    @property
    def id(self) -> str:
        return f"{self.key}@{self.size}"


def speedup(baseline: Row, row: Row) -> float | None:
    """How many times faster than the baseline (> 1 is faster)."""
    if row.error or baseline.error or not row.seconds:
        return None
    return baseline.seconds / row.seconds


def rss_ratio(baseline: Row, row: Row) -> float | None:
    """Peak RSS as a fraction of the baseline's (< 1 is lighter)."""
    if row.error or baseline.error or not baseline.rss:
        return None
    return row.rss / baseline.rss


def _fmt(value, spec: str, missing: str = "-") -> str:
    return missing if value is None else format(value, spec)


def format_table(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub-flavoured markdown table (readable as plain text too)."""
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), sep, *(line(r) for r in rows)])


TABLE_HEADER = ["row", "configuration", "size", "median s", "speed-up", "peak RSS MiB", "RSS ratio",
                "max abs diff"]


def table_rows(rows: list[Row]) -> list[list[str]]:
    """Cells per row, ratios against each row's base row (looked up among rows)."""
    by_id = {r.id: r for r in rows}
    out = []
    for row in rows:
        if row.error:
            out.append([row.key, row.label, row.size, "failed", "-", "-", "-", row.error[:60]])
            continue
        base = by_id.get(row.base)
        up = speedup(base, row) if base else None
        rr = rss_ratio(base, row) if base else None
        out.append([
            row.key, row.label, row.size, f"{row.seconds:.3f}",
            _fmt(up, ".2f") + ("x" if up is not None else ""),
            f"{row.rss / MiB:.0f}",
            _fmt(None if rr is None else 100 * rr, ".0f") + ("%" if rr is not None else ""),
            _fmt(row.max_abs_diff, ".1e"),
        ])
    return out


@dataclass
class Target:
    name: str
    wanted: str
    measured: str
    met: bool | None  # None: not measured


def check_targets(rows: dict[str, Row], size: str, int8_psnr: float | None) -> list[Target]:
    """Issue 8's targets at one size, from rows keyed 'a', 'c', 'e', 'f-unfold', 'f-best'."""
    out = []
    a = rows.get("a")

    def ratio_target(name, key, wanted, limit):
        row = rows.get(key)
        value = speedup(a, row) if a and row else None
        out.append(Target(name, f">= {limit:.1f}x", _fmt(value, ".2f") + ("x" if value else ""),
                          None if value is None else value >= limit))

    ratio_target(f"c faster than a ({size})", "c", "", 1.5)
    c = rows.get("c")
    rr = rss_ratio(a, c) if a and c else None
    out.append(Target(f"peak RSS of c vs a ({size})", "<= 40%", _fmt(None if rr is None else 100 * rr, ".0f") +
                      ("%" if rr is not None else ""), None if rr is None else rr <= 0.40))
    ratio_target(f"e INT8 faster than a ({size})", "e", "", 4.0)
    out.append(Target(f"e audit PSNR vs FP32 graph ({size})", ">= 33 dB", _fmt(int8_psnr, ".1f") +
                      (" dB" if int8_psnr is not None else ""), None if int8_psnr is None else int8_psnr >= 33.0))
    base, best = rows.get("f-unfold"), rows.get("f-best")
    value = speedup(base, best) if base and best else None
    out.append(Target(f"IAC alone faster than unfold ({size})", ">= 10.0x", _fmt(value, ".1f") + ("x" if value else ""),
                      None if value is None else value >= 10.0))
    return out


def format_targets(targets: list[Target]) -> str:
    verdict = {True: "met", False: "MISSED", None: "not measured"}
    return format_table(["target", "wanted", "measured", "verdict"],
                        [[t.name, t.wanted, t.measured, verdict[t.met]] for t in targets])
