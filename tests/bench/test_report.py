"""The benchmark's pure logic: statistics, RSS parsing, ratios, table, targets."""

import math

import numpy as np
import pytest

from bench.report import (MiB, TABLE_HEADER, Row, check_targets, format_table, median_seconds, parse_vmhwm,
                          psnr, rss_ratio, speedup, table_rows)

STATUS = """Name:\tpython
VmPeak:\t 3000000 kB
VmHWM:\t 2411724 kB
VmRSS:\t  102400 kB
"""


def test_parse_vmhwm_reads_peak_not_current():
    assert parse_vmhwm(STATUS) == 2411724 * 1024


def test_parse_vmhwm_without_line():
    with pytest.raises(ValueError, match="VmHWM"):
        parse_vmhwm("Name:\tx\n")


def test_median_odd_even_and_empty():
    assert median_seconds([3.0, 1.0, 2.0]) == 2.0
    assert median_seconds([4.0, 1.0, 2.0, 3.0]) == 2.5
    with pytest.raises(ValueError):
        median_seconds([])


def test_psnr_known_value():
    a = np.zeros((4, 4), np.float32)
    b = a + 0.1  # mse 0.01 -> 20 dB
    assert psnr(a, b) == pytest.approx(20.0, abs=1e-6)
    assert math.isinf(psnr(a, a))


def _rows():
    a = Row("a", "base", "720x1280", seconds=10.0, rss=2000 * MiB, base="a@720x1280", max_abs_diff=0.0)
    c = Row("c", "ort", "720x1280", seconds=4.0, rss=600 * MiB, base="a@720x1280", max_abs_diff=1e-6)
    e = Row("e", "int8", "720x1280", seconds=2.0, rss=300 * MiB, base="a@720x1280")
    fu = Row("f-unfold", "unfold", "720x1280", seconds=0.3, rss=500 * MiB, base="f-unfold@720x1280")
    fn = Row("f-native", "native", "720x1280", seconds=0.02, rss=100 * MiB, base="f-unfold@720x1280")
    return a, c, e, fu, fn


def test_ratios():
    a, c, *_ = _rows()
    assert speedup(a, c) == pytest.approx(2.5)
    assert rss_ratio(a, c) == pytest.approx(0.3)
    c.error = "boom"
    assert speedup(a, c) is None and rss_ratio(a, c) is None


def test_table_rows_use_each_rows_base():
    rows = list(_rows())
    cells = table_rows(rows)
    assert [c[0] for c in cells] == ["a", "c", "e", "f-unfold", "f-native"]
    assert cells[1][4] == "2.50x" and cells[1][8] == "30%" and cells[1][9] == "1.0e-06"
    assert cells[1][5:7] == ["-", "-"]  # no floor measured
    assert cells[4][4] == "15.00x"  # against f-unfold, not against a
    text = format_table(TABLE_HEADER, cells)
    lines = text.splitlines()
    assert len(lines) == 2 + len(rows) and len({len(line) for line in lines}) == 1


def test_failed_row_is_shown_not_dropped():
    a, c, *_ = _rows()
    c.error = "exit 1: out of memory"
    cells = table_rows([a, c])
    assert cells[1][3] == "failed" and "out of memory" in cells[1][9] and len(cells[1]) == len(TABLE_HEADER)


def test_targets():
    a, c, e, fu, fn = _rows()
    targets = check_targets({"a": a, "c": c, "e": e, "f-unfold": fu, "f-best": fn}, "720x1280", 35.0)
    verdict = {t.name.split(" (")[0]: t.met for t in targets}
    assert verdict == {"c faster than a": True, "peak RSS of c vs a": True, "e INT8 faster than a": True,
                       "e audit PSNR vs FP32 graph": True, "IAC alone faster than unfold": True}
    e.seconds = 3.0  # 3.3x < 4x
    missed = check_targets({"a": a, "c": c, "e": e}, "720x1280", None)
    assert [t.met for t in missed] == [True, True, False, None, None]
