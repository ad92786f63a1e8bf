"""Each row against the machine's arithmetic floor: MAC counts, the floor from MACs and GEMM rates,
the ratio columns and targets, the CPU model and ISA flags read from /proc/cpuinfo text."""

import pytest

from bench.report import (TABLE_HEADER, Row, conv_macs, cpu_model, floor_ratio, floor_seconds, floor_targets,
                          gemm_ops_per_second, iac_macs, isa_flags, split_macs, table_rows)

EPYC = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7B13
flags\t\t: fpu sse2 avx fma avx2 bmi2
"""
XEON = """processor\t: 0
model name\t: Intel(R) Xeon(R) Processor
flags\t\t: avx avx2 fma avx512f avx512_vnni avx_vnni amx_tile amx_int8
"""
ORIN = """processor\t: 0
Features\t: fp asimd asimddp
CPU part\t: 0xd42
"""


def test_cpu_model_and_isa_flags():
    assert cpu_model(EPYC) == "AMD EPYC 7B13" and isa_flags(EPYC) == ["avx2", "fma"]
    assert isa_flags(XEON) == ["avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8"]
    assert cpu_model(ORIN) == "0xd42" and isa_flags(ORIN) == ["asimddp"]
    assert cpu_model("") == "unknown" and isa_flags("") == []


def test_gemm_rate_counts_two_operations_per_mac():
    assert gemm_ops_per_second(2048, 2048, 2048, 0.1) == pytest.approx(2 * 2048 ** 3 / 0.1)
    with pytest.raises(ValueError):
        gemm_ops_per_second(8, 8, 8, 0.0)


def test_conv_and_iac_macs():
    # 3x3 conv 32 -> 64 on 1x32x90x160: 64*90*160 outputs, each 32*9 MACs
    assert conv_macs((1, 64, 90, 160), (64, 32, 3, 3)) == 64 * 90 * 160 * 32 * 9
    assert conv_macs((1, 64, 90, 160), (64, 8, 3, 3)) == 64 * 90 * 160 * 8 * 9  # groups=4: Cin/4 per output
    # 4x4 stride-2 transposed conv 128 -> 64 from 1x128x90x160: each input spreads over 64*16 outputs
    assert conv_macs((1, 64, 180, 320), (128, 64, 4, 4), True, (1, 128, 90, 160)) == 128 * 90 * 160 * 64 * 16
    assert iac_macs(17, 128, 90, 160, 3) == 17 * 6 * 128 * 90 * 160


def test_split_keeps_thin_convs_and_the_iac_fp32_in_the_int8_graph():
    convs = [(100, 3, 32), (1000, 32, 32), (50, 128, 1), (40, 32, 3)]
    assert split_macs(convs, 7, int8=False) == {"fp32": 1197, "int8": 0}
    assert split_macs(convs, 7, int8=True) == {"fp32": 197, "int8": 1000}


def test_floor_from_macs_and_rates():
    rates = {"fp32": 200e9, "int8": 800e9}  # operations per second
    assert floor_seconds({"fp32": 100e9, "int8": 0}, rates) == pytest.approx(1.0)
    assert floor_seconds({"fp32": 10e9, "int8": 400e9}, rates) == pytest.approx(0.1 + 1.0)
    assert floor_seconds({"fp32": 1e9, "int8": 1e9}, {"fp32": 200e9}) is None  # no INT8 rate measured
    assert floor_seconds({}, rates) is None


def test_ratio_columns_and_floor_targets():
    c = Row("c", "ort", "720x1280", seconds=2.3, base="a@720x1280", floor=2.0)
    e = Row("e", "int8", "720x1280", seconds=1.3, base="a@720x1280", floor=1.0)
    f = Row("f-native", "iac", "720x1280", seconds=0.02, base="f-unfold@720x1280")
    assert floor_ratio(c) == pytest.approx(1.15) and floor_ratio(f) is None
    cells = {r[0]: r for r in table_rows([c, e, f])}
    floor_col, ratio_col = TABLE_HEADER.index("floor s"), TABLE_HEADER.index("x floor")
    assert (cells["c"][floor_col], cells["c"][ratio_col]) == ("2.000", "1.15x")
    assert (cells["f-native"][floor_col], cells["f-native"][ratio_col]) == ("-", "-")
    verdicts = {t.name.split(" vs")[0]: (t.measured, t.met) for t in floor_targets({"c": c, "e": e}, "720x1280")}
    assert verdicts == {"c FP32 path": ("1.15x", True), "e INT8 path": ("1.30x", False)}
    assert [t.met for t in floor_targets({}, "720x1280")] == [None, None]


def test_network_macs_count_the_pruned_filter_channels_and_the_iac():
    pytest.importorskip("torch")
    from bench.macs import network_macs
    from ifan_trt.contract import filter_channels
    from ifan_trt.model import IFANConfig

    config = IFANConfig(ch=8, n_iters=2)
    full, iac_full = network_macs(config, 64, 96, "full")
    compact, iac_compact = network_macs(config, 64, 96, "compact")
    c4, pixels = 4 * config.ch, (64 // 8) * (96 // 8)
    assert iac_full == iac_compact == 2 * 2 * 3 * c4 * pixels
    pruned = filter_channels(2, c4, 3, "full") - filter_channels(2, c4, 3, "compact")
    assert sum(m for m, _, _ in full) - sum(m for m, _, _ in compact) == pruned * c4 * pixels  # the 1x1 filter conv
    assert len(full) == len(compact) and full[0] == (8 * 64 * 96 * 3 * 9, 3, 8)  # conv1_1: 3 -> ch, 3x3
