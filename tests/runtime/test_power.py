"""Jetson power (runtime/measure/power.py) against fake sysfs trees laid out as the two Orin modules'
(the kernel's ina3221 hwmon files, nvpmodel's status and configuration, cpufreq and devfreq)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ifan_trt.runtime.measure import power


def _monitor(sys_root: Path, device: str, hwmon: str, channels: list[tuple[str, int, int] | None]) -> Path:
    """One INA3221: channels as (label, mV, mA), None for an unwired one (label "NC", zeros)."""
    folder = sys_root / "bus/i2c/drivers/ina3221" / device / "hwmon" / hwmon
    folder.mkdir(parents=True)
    for n, channel in enumerate(channels, start=1):
        label, mv, ma = channel or ("NC", 0, 0)
        (folder / f"in{n}_label").write_text(label + "\n")
        (folder / f"in{n}_input").write_text(f"{mv}\n")
        (folder / f"curr{n}_input").write_text(f"{ma}\n")
    return folder


def agx_orin(sys_root: Path) -> Path:
    """Jetson AGX Orin (P3701): 1-0040 GPU+SOC, CPU+CV, 5 V system; 1-0041 only DDR (VDDQ_VDD2_1V8AO)."""
    _monitor(sys_root, "1-0040", "hwmon3", [("VDD_GPU_SOC", 5000, 1200), ("VDD_CPU_CV", 5000, 800),
                                             ("VIN_SYS_5V0", 5000, 400)])
    _monitor(sys_root, "1-0041", "hwmon4", [None, ("VDDQ_VDD2_1V8AO", 5000, 100), None])
    return sys_root


def orin_nano(sys_root: Path) -> Path:
    """Jetson Orin Nano / NX (P3767): one monitor, 1-0040: VDD_IN (all of the module), CPU+GPU+CV, SOC."""
    _monitor(sys_root, "1-0040", "hwmon1", [("VDD_IN", 5000, 1600), ("VDD_CPU_GPU_CV", 5000, 600),
                                             ("VDD_SOC", 5000, 300)])
    return sys_root


def test_agx_orin_rails_sum_to_the_board_figure(tmp_path):
    rails = power.find_rails(agx_orin(tmp_path))
    assert [r.name for r in rails] == ["VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0", "VDDQ_VDD2_1V8AO"]
    watts = {r.name: r.watts() for r in rails}
    assert watts == {"VDD_GPU_SOC": 6.0, "VDD_CPU_CV": 4.0, "VIN_SYS_5V0": 2.0, "VDDQ_VDD2_1V8AO": 0.5}
    total, basis = power.board_watts(watts)
    assert total == pytest.approx(12.5) and basis.startswith("sum of VDD_GPU_SOC + ")


def test_orin_nano_board_figure_is_vdd_in_alone(tmp_path):
    watts = {r.name: r.watts() for r in power.find_rails(orin_nano(tmp_path))}
    assert watts == {"VDD_IN": 8.0, "VDD_CPU_GPU_CV": 3.0, "VDD_SOC": 1.5}
    assert power.board_watts(watts) == (8.0, "VDD_IN")  # the other rails are inside it: not added


def test_no_rails_off_jetson(tmp_path):
    assert power.find_rails(tmp_path) == [] and power.ina3221_sampler(tmp_path) is None


def test_sampler_means_the_rails_over_the_window_and_per_frame(tmp_path):
    root = orin_nano(tmp_path)
    current = root / "bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon1/curr1_input"
    sampler = power.ina3221_sampler(root, interval=0.001)
    sampler.start()
    for ma in (1600, 2400):  # the load changes during the run: 8 W, then 12 W
        (current.parent / "new").write_text(f"{ma}\n")
        (current.parent / "new").replace(current)  # one read sees the old or the new value, as in sysfs
        import time

        time.sleep(0.05)
    report = sampler.stop(frames=10)
    assert report.samples >= 10
    assert 8.0 < report.mean_w < 12.0 and report.basis == "VDD_IN" and report.source == "ina3221"
    assert report.rail_mean_w["VDD_SOC"] == pytest.approx(1.5)
    assert report.mj_per_frame == pytest.approx(report.mean_w * report.seconds * 1e3 / 10)
    assert report.to_dict()["energy_j"] == pytest.approx(report.mean_w * report.seconds)


def test_nvpmodel_mode_from_status_and_conf(tmp_path):
    (tmp_path / "var/lib/nvpmodel").mkdir(parents=True)
    (tmp_path / "etc").mkdir()
    (tmp_path / "var/lib/nvpmodel/status").write_text("pmode:0002 fmode:quiet\n")
    (tmp_path / "etc/nvpmodel.conf").write_text(
        "< POWER_MODEL ID=0 NAME=MAXN >\nCPU_ONLINE CORE_0 1\n< POWER_MODEL ID=1 NAME=MODE_15W >\n"
        "< POWER_MODEL ID=2 NAME=MODE_30W >\nGPU MAX_FREQ 816000000\n")
    assert power.nvpmodel_mode(tmp_path) == "MODE_30W (id 2)"
    (tmp_path / "var/lib/nvpmodel/status").write_text("pmode:0007\n")
    assert power.nvpmodel_mode(tmp_path) == "id 7"
    assert power.nvpmodel_mode(tmp_path / "nowhere") is None


def _clock_tree(root: Path, cpu: tuple[int, int, int], gpu: tuple[int, int, int]) -> None:
    for i in range(2):
        policy = root / f"devices/system/cpu/cpufreq/policy{i * 4}"
        policy.mkdir(parents=True, exist_ok=True)
        for name, value in zip(("scaling_min_freq", "scaling_max_freq", "scaling_cur_freq"), cpu):
            (policy / name).write_text(f"{value}\n")
    gpu_dir = root / "class/devfreq/17000000.ga10b"
    gpu_dir.mkdir(parents=True, exist_ok=True)
    for name, value in zip(("min_freq", "max_freq", "cur_freq"), gpu):
        (gpu_dir / name).write_text(f"{value}\n")
    (root / "class/devfreq/15340000.vic").mkdir(parents=True, exist_ok=True)  # not the GPU: ignored


def test_clocks_locked_only_when_min_equals_max_for_cpu_and_gpu(tmp_path):
    _clock_tree(tmp_path, (2201600, 2201600, 2201600), (1300500000, 1300500000, 1300500000))
    state = power.clocks(tmp_path)
    assert state["locked"] and state["cpu_locked"] and state["gpu_locked"]
    assert state["gpu_cur_hz"] == [1300500000]
    _clock_tree(tmp_path, (2201600, 2201600, 2201600), (306000000, 1300500000, 306000000))  # GPU still scales
    state = power.clocks(tmp_path)
    assert not state["locked"] and state["cpu_locked"] and state["gpu_locked"] is False
    assert "not locked" in power.state_line({"nvpmodel": "MAXN (id 0)", **state})
    assert power.clocks(tmp_path / "none") == {"cpu_locked": None, "gpu_locked": None, "locked": False,
                                               "cpu_cur_khz": [], "gpu_cur_hz": []}


def test_profile_reports_watts_and_energy_per_frame_beside_latency(tmp_path):
    """ifan profile's numbers: the sampler runs during the timed runs; the report line and the
    CSV carry the mean watts and mJ per frame."""
    from ifan_trt.runtime.interface.executor import Executor, ModelInfo
    from ifan_trt.runtime.measure.profile_report import table, to_csv
    from ifan_trt.runtime.measure.profiler import profile

    class Identity(Executor):
        backend = "identity"
        info = ModelInfo()

        def run(self, input, left=None, right=None):
            return input

    sampler = power.ina3221_sampler(agx_orin(tmp_path), interval=0.001)
    result = profile(Identity(), (2, 3, 32, 48), "identity", warmup=1, iterations=5, progress=False, power=sampler)
    p = result.power
    assert p["mean_w"] == pytest.approx(12.5) and p["frames"] == 10
    assert p["mj_per_frame"] == pytest.approx(12.5 * p["seconds"] * 1e3 / 10)
    assert "power 12.50 W mean (sum of VDD_GPU_SOC" in table([result])
    header, row = to_csv([result]).splitlines()
    values = dict(zip(header.split(","), row.split(",")))
    assert float(values["power_mean_w"]) == pytest.approx(12.5)
    assert np.isclose(float(values["mj_per_frame"]), p["mj_per_frame"], rtol=1e-3)


def test_jtop_when_sysfs_has_no_rails(tmp_path, monkeypatch):
    """jtop (jetson-stats) gives the same rails in mW: used where sysfs shows none."""
    import sys
    import types

    class FakeJtop:
        closed = False

        def start(self):
            self.power = {"rail": {"VDD_IN": {"power": 7000, "volt": 5000, "curr": 1400},
                                   "VDD_SOC": {"power": 1500}}, "tot": {"power": 7000}}

        def close(self):
            FakeJtop.closed = True

    monkeypatch.setitem(sys.modules, "jtop", types.SimpleNamespace(jtop=FakeJtop))
    sampler = power.open_sampler(tmp_path, interval=0.001)
    assert sampler.source == "jtop"
    sampler.start()
    report = sampler.stop(frames=4)
    assert report.mean_w == pytest.approx(7.0) and report.basis == "VDD_IN"
    assert report.rail_mean_w == {"VDD_IN": pytest.approx(7.0), "VDD_SOC": pytest.approx(1.5)}
    sampler.close()
    assert FakeJtop.closed
