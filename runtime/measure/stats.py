"""Latency statistics for `ifan profile`: plain Python/NumPy, tested against NumPy's own."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

PERCENTILES = (50, 90, 95, 99)
NOISY_CV = 0.10  # coefficient of variation above which a run is too noisy to compare
TRANSFER_BOUND = 1.0  # (H2D + D2H) / compute above which a run is transfer-bound


@dataclass(frozen=True)
class Summary:
    count: int
    min: float
    mean: float
    median: float
    p90: float
    p95: float
    p99: float
    max: float
    std: float
    cv: float  # std / mean

    def to_dict(self) -> dict:
        return asdict(self)


def percentile(values, q: float) -> float:
    """The q-th percentile with linear interpolation between order statistics (NumPy's default)."""
    s = sorted(float(v) for v in values)
    if not s:
        raise ValueError("no values")
    pos = (len(s) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def summarize(values) -> Summary:
    v = np.asarray(list(values), np.float64)
    if v.size == 0:
        raise ValueError("no measurements")
    mean = float(v.mean())
    std = float(v.std(ddof=1)) if v.size > 1 else 0.0  # sample standard deviation
    return Summary(count=int(v.size), min=float(v.min()), mean=mean, median=percentile(v, 50),
                   p90=percentile(v, 90), p95=percentile(v, 95), p99=percentile(v, 99), max=float(v.max()),
                   std=std, cv=std / mean if mean > 0 else 0.0)


def throughput(mean_ms: float, batch: int = 1) -> float:
    """Images per second at a mean latency per batch."""
    return batch * 1000.0 / mean_ms if mean_ms > 0 else float("inf")


def warnings_for(summary: Summary, stage_means: dict[str, float]) -> list[str]:
    """What makes the numbers less trustworthy or explains them."""
    found = []
    if summary.cv > NOISY_CV:
        found.append(f"noisy run: coefficient of variation {summary.cv:.0%} > {NOISY_CV:.0%}; close other "
                     "programs, fix clocks (Jetson: sudo jetson_clocks), or run longer")
    transfer = stage_means.get("h2d", 0.0) + stage_means.get("d2h", 0.0)
    compute = stage_means.get("compute", 0.0)
    if transfer > 0 and compute > 0 and transfer / compute > TRANSFER_BOUND:
        found.append(f"transfer-bound: H2D + D2H take {transfer:.2f} ms, more than compute ({compute:.2f} ms); "
                     "batch frames or keep data on the GPU")
    return found
