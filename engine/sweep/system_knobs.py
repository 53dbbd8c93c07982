"""The system knobs a sweep can read and cannot turn: SMT, NUMA nodes, the
frequency governor and turbo/boost. Each comes with where it was read and
whether this user could change it here (root writes the sysfs files; NUMA
nodes are the hardware's and the firmware's). Core affinity is the one
knob a sweep turns itself (--pin)."""
from __future__ import annotations

import glob
import os
from dataclasses import asdict, dataclass
from pathlib import Path

CPU = Path("/sys/devices/system/cpu")
NODES = Path("/sys/devices/system/node")


@dataclass(frozen=True)
class Knob:
    value: str | int | bool | None  # None: not readable here
    source: str  # the file it was read from, or why nothing was
    settable: bool  # could this process change it (write its file)?
    how: str  # what changes it

    def to_dict(self) -> dict:
        return asdict(self)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK)


def smt() -> Knob:
    active, control = CPU / "smt/active", CPU / "smt/control"
    text = _read(active)
    value = None if text is None else text == "1"
    how = f"root: echo on|off > {control}"
    if _read(control) in ("notsupported", "forceoff", "notimplemented"):
        how = f"not at all here ({control} says {_read(control)})"
        return Knob(value, str(active), False, how)
    return Knob(value, str(active) if text is not None else f"{active} not readable", _writable(control), how)


def numa_nodes() -> Knob:
    nodes = sorted(glob.glob(str(NODES / "node[0-9]*")))
    value = len(nodes) if nodes else None
    return Knob(value, str(NODES) if nodes else f"{NODES} lists no node", False,
                "not from software: the hardware and firmware (BIOS sub-NUMA clustering) set it; "
                "a process can only bind to nodes (numactl)")


def governor() -> Knob:
    path = CPU / "cpu0/cpufreq/scaling_governor"
    value = _read(path)
    return Knob(value, str(path) if value is not None else f"{path} not readable (no cpufreq here)",
                value is not None and _writable(path), "root: cpupower frequency-set -g GOVERNOR")


def turbo() -> Knob:
    """True when turbo/boost is on: intel_pstate's no_turbo (inverted) or cpufreq's boost."""
    for path, on_when in ((CPU / "intel_pstate/no_turbo", "0"), (CPU / "cpufreq/boost", "1")):
        text = _read(path)
        if text is not None:
            return Knob(text == on_when, str(path), _writable(path), f"root: write {path}")
    return Knob(None, "neither intel_pstate/no_turbo nor cpufreq/boost readable", False,
                "root, where the driver exposes it")


def read_knobs() -> dict[str, dict]:
    """Every knob, plus the CPUs this process may run on (what --pin chooses from)."""
    knobs = {"smt": smt(), "numa_nodes": numa_nodes(), "governor": governor(), "turbo": turbo()}
    out = {name: knob.to_dict() for name, knob in knobs.items()}
    out["affinity"] = Knob(",".join(map(str, sorted(os.sched_getaffinity(0)))), "sched_getaffinity", True,
                           "any user, per process: --pin (sched_setaffinity)").to_dict()
    return out


def not_settable(knobs: dict[str, dict]) -> list[str]:
    """The knobs this user cannot change here."""
    return [name for name, knob in knobs.items() if not knob["settable"]]
