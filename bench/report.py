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
    floor: float | None = None  # seconds the row's arithmetic takes at the machine's GEMM rates

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


# ---------------------------------------------------------------- the machine's arithmetic floor

def gemm_ops_per_second(m: int, n: int, k: int, seconds: float) -> float:
    """Rate of an (m x k) @ (k x n) product: 2 operations (multiply, add) per MAC."""
    if seconds <= 0:
        raise ValueError("a GEMM time must be positive")
    return 2.0 * m * n * k / seconds


def conv_macs(out_shape: tuple, weight_shape: tuple, transposed: bool = False, in_shape: tuple = ()) -> int:
    """MACs of one (grouped) 2-D convolution. Conv: every output element sums Cin/groups x kh x kw
    products (weight [Cout, Cin/g, kh, kw]); ConvTranspose: every input element spreads over
    Cout/groups x kh x kw outputs (weight [Cin, Cout/g, kh, kw])."""
    per = weight_shape[1] * weight_shape[2] * weight_shape[3]
    elements = in_shape if transposed else out_shape
    count = 1
    for d in elements:
        count *= d
    return count * per


def iac_macs(n_iters: int, c: int, h: int, w: int, k: int, batch: int = 1) -> int:
    """The IAC's MACs: per iteration a vertical then a horizontal k-tap filter per element."""
    return n_iters * 2 * k * batch * c * h * w


def split_macs(convs: list[tuple[int, int, int]], iac: int, int8: bool, thin: int = 4) -> dict[str, int]:
    """{"fp32", "int8"} MACs of a network from its convs (MACs, Cin, Cout) and IAC MACs. In the INT8
    graph for the CPU, convs with at most `thin` channels in or out (the RGB ones) and the IAC stay
    FP32 (calib.cpu_int8); everything runs FP32 otherwise."""
    if not int8:
        return {"fp32": sum(m for m, _, _ in convs) + iac, "int8": 0}
    quantized = sum(m for m, cin, cout in convs if min(cin, cout) > thin)
    return {"fp32": sum(m for m, _, _ in convs) - quantized + iac, "int8": quantized}


def floor_seconds(macs: dict[str, float], rates: dict[str, float]) -> float | None:
    """Time the row's MACs take at the matching GEMM rates (operations per second, 2 per MAC):
    {"fp32": MACs run in FP32, "int8": MACs run as u8s8}; None without a rate for a part."""
    if not macs or any(n and not rates.get(kind) for kind, n in macs.items()):
        return None
    return sum(2.0 * n / rates[kind] for kind, n in macs.items() if n)


def floor_ratio(row: Row) -> float | None:
    """The row's time over its floor (1.0 = as fast as the machine's GEMM allows)."""
    if row.error or not row.floor or not row.seconds:
        return None
    return row.seconds / row.floor


def cpu_model(cpuinfo: str) -> str:
    """The 'model name' of /proc/cpuinfo (x86; 'Model' or 'CPU part' on Arm), else 'unknown'."""
    fields = dict(line.split(":", 1) for line in cpuinfo.splitlines() if ":" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    return fields.get("model name") or fields.get("Model") or fields.get("CPU part") or "unknown"


# the flags that decide MLAS's GEMM kernels: AVX2 FMA, AVX-512, VNNI (u8s8 dot products), AMX
ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8", "asimddp", "i8mm")


def isa_flags(cpuinfo: str) -> list[str]:
    """Which of ISA_FLAGS the first CPU of /proc/cpuinfo lists ('flags' on x86, 'Features' on Arm)."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            have = set(value.split())
            return [f for f in ISA_FLAGS if f in have]
    return []


TABLE_HEADER = ["row", "configuration", "size", "median s", "speed-up", "floor s", "x floor", "peak RSS MiB",
                "RSS ratio", "max abs diff"]


def table_rows(rows: list[Row]) -> list[list[str]]:
    """Cells per row, ratios against each row's base row (looked up among rows)."""
    by_id = {r.id: r for r in rows}
    out = []
    for row in rows:
        if row.error:
            out.append([row.key, row.label, row.size, "failed", "-", "-", "-", "-", "-", row.error[:60]])
            continue
        base = by_id.get(row.base)
        up = speedup(base, row) if base else None
        rr = rss_ratio(base, row) if base else None
        fr = floor_ratio(row)
        out.append([
            row.key, row.label, row.size, f"{row.seconds:.3f}",
            _fmt(up, ".2f") + ("x" if up is not None else ""),
            _fmt(row.floor, ".3f"), _fmt(fr, ".2f") + ("x" if fr is not None else ""),
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
    """The CPU targets at one size, from rows keyed 'a', 'c', 'e', 'f-unfold', 'f-best'."""
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


FLOOR_TARGETS = {"c": ("FP32 path", 1.15), "e": ("INT8 path", 1.25)}


def floor_targets(rows: dict[str, Row], size: str) -> list[Target]:
    """The FP32 path (row c) within 1.15x of its floor, INT8 (row e) within 1.25x, on any machine."""
    out = []
    for key, (name, limit) in FLOOR_TARGETS.items():
        row = rows.get(key)
        value = floor_ratio(row) if row else None
        out.append(Target(f"{key} {name} vs its arithmetic floor ({size})", f"<= {limit:.2f}x",
                          _fmt(value, ".2f") + ("x" if value is not None else ""),
                          None if value is None else value <= limit))
    return out
