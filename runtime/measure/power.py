"""Board power on Jetson while a model runs: the INA3221 power monitors' rails (or jtop's reading
of them), the nvpmodel power mode, and whether the clocks are locked (jetson_clocks).

The kernel's ina3221 hwmon driver gives, per channel n of each monitor,
``/sys/bus/i2c/drivers/ina3221/<bus>-<addr>/hwmon/hwmon*/in<n>_label`` (the rail's name),
``in<n>_input`` (bus voltage, mV) and ``curr<n>_input`` (current, mA); a channel the board does
not wire has no label (or "NC") and is skipped. The layouts differ by module:

- Jetson AGX Orin (P3701 module): two monitors on I2C bus 1. 0x40: VDD_GPU_SOC, VDD_CPU_CV,
  VIN_SYS_5V0; 0x41: (unwired), VDDQ_VDD2_1V8AO, (unwired). There is no rail of the module's whole
  input: the board's figure is the sum of the rails (the carrier board's own draw is not seen).
- Jetson Orin Nano and Orin NX (P3767 module): one monitor, 1-0040: VDD_IN (the module's whole
  input), VDD_CPU_GPU_CV and VDD_SOC (both already inside VDD_IN): the board's figure is VDD_IN.

Power is sampled in a thread every `interval` seconds while the timed runs go on; the report is
the mean of each rail and of the board figure, the energy over the window, and per frame.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("ifan")

INA3221 = "bus/i2c/drivers/ina3221"
TOTAL_RAIL = "VDD_IN"  # Orin Nano / NX: the module's input, which contains the other rails
UNWIRED = {"", "NC"}


@dataclass(frozen=True)
class Rail:
    name: str
    voltage: Path  # in<n>_input, mV
    current: Path  # curr<n>_input, mA

    def watts(self) -> float:
        return _number(self.voltage) * _number(self.current) / 1e6


def _number(path: Path) -> float:
    return float(path.read_text().strip())


def find_rails(sys_root: str | Path = "/sys") -> list[Rail]:
    """Every wired, readable INA3221 channel under sys_root, in device and channel order."""
    rails = []
    for hwmon in sorted(Path(sys_root, INA3221).glob("*/hwmon/hwmon*")):
        for label in sorted(hwmon.glob("in*_label")):
            n = re.fullmatch(r"in(\d+)_label", label.name)
            try:
                name = label.read_text().strip()
            except OSError:
                continue
            if not n or name in UNWIRED:
                continue
            rail = Rail(name, hwmon / f"in{n.group(1)}_input", hwmon / f"curr{n.group(1)}_input")
            try:
                rail.watts()
            except (OSError, ValueError):  # disabled channel, or no permission
                continue
            rails.append(rail)
    return rails


def board_watts(per_rail: dict[str, float]) -> tuple[float, str]:
    """(the board's figure, how it was made): VDD_IN where the module has it, else the sum."""
    if TOTAL_RAIL in per_rail:
        return per_rail[TOTAL_RAIL], TOTAL_RAIL
    return sum(per_rail.values()), "sum of " + " + ".join(per_rail)


@dataclass
class PowerReport:
    source: str  # "ina3221" or "jtop"
    basis: str  # VDD_IN, or the sum of the rails
    samples: int
    seconds: float
    mean_w: float
    rail_mean_w: dict[str, float] = field(default_factory=dict)
    frames: int = 0

    @property
    def energy_j(self) -> float:
        return self.mean_w * self.seconds

    @property
    def mj_per_frame(self) -> float | None:
        return self.energy_j * 1e3 / self.frames if self.frames else None

    def to_dict(self) -> dict:
        return {"source": self.source, "basis": self.basis, "samples": self.samples, "seconds": self.seconds,
                "mean_w": self.mean_w, "energy_j": self.energy_j, "frames": self.frames,
                "mj_per_frame": self.mj_per_frame, "rail_mean_w": self.rail_mean_w}


class PowerSampler:
    """Samples the rails in a thread between start() and stop(); stop() returns the PowerReport.
    read: a function returning {rail: watts} (the INA3221 rails, or jtop's)."""

    def __init__(self, read, source: str, interval: float = 0.02, close=None):
        self._read, self.source, self.interval, self._close = read, source, interval, close
        self._samples: list[dict[str, float]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = self._t1 = 0.0

    def start(self) -> None:
        self._samples.clear()
        self._stop.clear()
        self._t0 = time.perf_counter()
        self._samples.append(self._read())
        self._thread = threading.Thread(target=self._loop, name="ifan-power", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        misses = 0
        while not self._stop.wait(self.interval):
            try:
                self._samples.append(self._read())
                misses = 0
            except (OSError, ValueError) as exc:  # one unreadable sample is skipped; a rail gone stops it
                misses += 1
                if misses >= 5:
                    log.warning("power sampling stopped: %s", exc)
                    return

    def close(self) -> None:
        """Let go of the source (jtop's connection to its service)."""
        if self._close is not None:
            self._close()
            self._close = None

    def stop(self, frames: int = 0) -> PowerReport:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._t1 = time.perf_counter()
        self._samples.append(self._read())
        rails = list(self._samples[0])
        rail_mean = {r: sum(s.get(r, 0.0) for s in self._samples) / len(self._samples) for r in rails}
        mean, basis = board_watts(rail_mean)
        return PowerReport(self.source, basis, len(self._samples), self._t1 - self._t0, mean, rail_mean, frames)


def ina3221_sampler(sys_root: str | Path = "/sys", interval: float = 0.02) -> PowerSampler | None:
    rails = find_rails(sys_root)
    if not rails:
        return None
    return PowerSampler(lambda: {r.name: r.watts() for r in rails}, "ina3221", interval)


def jtop_sampler(interval: float = 0.02) -> PowerSampler | None:
    """jtop (jetson-stats) when it is installed and its service answers: its rails, in watts."""
    try:
        from jtop import jtop  # noqa: PLC0415  optional
    except ImportError:
        return None
    try:
        handle = jtop()
        handle.start()
    except Exception as exc:  # noqa: BLE001  the jtop service is down or refuses us
        log.info("jtop is installed but does not answer: %s", exc)
        return None

    def read() -> dict[str, float]:
        rails = (handle.power or {}).get("rail", {})
        return {name: float(r.get("power", 0.0)) / 1e3 for name, r in rails.items()}  # jtop gives mW

    sampler = PowerSampler(read, "jtop", interval, close=handle.close)
    if not read():
        handle.close()
        return None
    return sampler


def open_sampler(sys_root: str | Path = "/sys", interval: float = 0.02) -> PowerSampler | None:
    """The INA3221 rails when sysfs shows them, else jtop, else None (not a Jetson)."""
    return ina3221_sampler(sys_root, interval) or jtop_sampler(interval)


# ---------------------------------------------------------------- what the board is set to

def nvpmodel_mode(etc_root: str | Path = "/", run=subprocess.run) -> str | None:
    """The power mode, "NAME (id N)": from `nvpmodel -q`, else /var/lib/nvpmodel/status (pmode:00NN)
    with the names of /etc/nvpmodel.conf; None off Jetson."""
    if shutil.which("nvpmodel") and str(etc_root) == "/":
        try:
            out = run(["nvpmodel", "-q"], capture_output=True, text=True, timeout=5).stdout
            m = re.search(r"NV Power Mode:\s*(\S+)\s*\n\s*(\d+)", out)
            if m:
                return f"{m.group(1)} (id {int(m.group(2))})"
        except (OSError, subprocess.SubprocessError):
            pass
    root = Path(etc_root)
    try:
        status = (root / "var/lib/nvpmodel/status").read_text()
    except OSError:
        return None
    m = re.search(r"pmode:(\d+)", status)
    if not m:
        return None
    mode = int(m.group(1))
    try:
        conf = (root / "etc/nvpmodel.conf").read_text()
    except OSError:
        return f"id {mode}"
    names = {int(i): n for i, n in re.findall(r"<\s*POWER_MODEL\s+ID=(\d+)\s+NAME=(\S+?)\s*>", conf)}
    return f"{names[mode]} (id {mode})" if mode in names else f"id {mode}"


def _freqs(folder: Path, names: tuple[str, str, str]) -> tuple[int, int, int] | None:
    try:
        return tuple(int((folder / n).read_text().strip()) for n in names)
    except (OSError, ValueError):
        return None


def clocks(sys_root: str | Path = "/sys") -> dict:
    """Whether jetson_clocks has locked the clocks: every CPU policy and the GPU's devfreq with
    min = max (jetson_clocks sets both to the maximum), and their current frequencies."""
    root = Path(sys_root)
    cpu = [_freqs(p, ("scaling_min_freq", "scaling_max_freq", "scaling_cur_freq"))
           for p in sorted(root.glob("devices/system/cpu/cpufreq/policy*"))]
    gpu = [_freqs(p, ("min_freq", "max_freq", "cur_freq")) for p in sorted(root.glob("class/devfreq/*"))
           if re.search(r"gpu|ga10b|gv11b|gp10b", p.name)]
    cpu, gpu = [c for c in cpu if c], [g for g in gpu if g]
    locked = lambda found: bool(found) and all(lo == hi for lo, hi, _ in found)
    return {"cpu_locked": locked(cpu) if cpu else None, "gpu_locked": locked(gpu) if gpu else None,
            "locked": bool(cpu) and bool(gpu) and locked(cpu) and locked(gpu),
            "cpu_cur_khz": [c[2] for c in cpu], "gpu_cur_hz": [g[2] for g in gpu]}


def board_state(sys_root: str | Path = "/sys", etc_root: str | Path = "/", run=subprocess.run) -> dict:
    return {"nvpmodel": nvpmodel_mode(etc_root, run), **clocks(sys_root)}


def state_line(state: dict) -> str:
    mode = state.get("nvpmodel") or "unknown"
    if state.get("locked"):
        lock = "clocks locked (jetson_clocks)"
    elif state.get("cpu_locked") is None and state.get("gpu_locked") is None:
        lock = "clocks unknown"
    else:
        lock = "clocks not locked (run sudo jetson_clocks for steady numbers)"
    return f"power mode {mode}, {lock}"
