"""What machine this is, for the run report: a stable fingerprint plus the
hardware and software facts that explain its numbers."""
from __future__ import annotations

import hashlib
import os
import platform
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from engine.report import Machine, Roof

MACHINE_ID_PATHS = ("/etc/machine-id", "/var/lib/dbus/machine-id")


@dataclass(frozen=True)
class Peaks:
    """This machine's roofs, as engine.roofline measures them (which keys
    its cache by our fingerprint, so it imports this module, not the reverse)."""

    gflops: float  # peak float32 GFLOP/s
    gbs: float  # peak memory GB/s (1 GB = 1e9 bytes), streaming copy
    # Random-row gather GB/s by row size in bytes (engine.gather_roof); empty where not measured.
    gather: Mapping[int, float] = field(default_factory=dict)
    threads: int | None = None  # the thread count they were measured under

    @property
    def ridge(self) -> float:
        """The arithmetic intensity (FLOPs/byte) where the roofs meet."""
        return self.gflops / self.gbs

    def to_roof(self, threads: int) -> Roof:
        """The report's form (engine.report.Roof)."""
        return Roof(threads=self.threads or threads, gflops=self.gflops, gbs=self.gbs,
                    gather_gbs={str(k): v for k, v in sorted(self.gather.items())})


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "cpu model") and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def last_level_cache_bytes() -> int:
    """The biggest CPU cache sysfs lists for cpu0 (32 MiB when it lists none)."""
    sizes = []
    for index in range(8):
        try:
            with open(f"/sys/devices/system/cpu/cpu0/cache/index{index}/size", encoding="ascii") as f:
                text = f.read().strip()
        except OSError:
            break
        unit = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
        try:
            sizes.append(int(text.rstrip("KMG")) * unit)
        except ValueError:
            continue
    return max(sizes, default=32 << 20)


def machine_id() -> str:
    for path in MACHINE_ID_PATHS:
        try:
            with open(path, encoding="ascii", errors="replace") as f:
                if value := f.read().strip():
                    return value
        except OSError:
            continue
    return ""


@lru_cache(maxsize=1)
def fingerprint() -> str:
    """sha256 over facts that survive a reboot: CPU model, core count, total
    memory, architecture and the OS machine id when there is one."""
    parts = [cpu_model(), str(os.cpu_count() or 0), str(memory_bytes()), platform.machine(), machine_id()]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


@lru_cache(maxsize=1)
def blas_version() -> str:
    """e.g. 'scipy-openblas 0.3.31.188.0', from numpy's build configuration."""
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        return " ".join(str(blas[k]) for k in ("name", "version") if blas.get(k)) or "unknown"
    except Exception:  # show_config's layout is not a stable API; the report must still be written
        return "unknown"


def machine_info(peaks: Peaks, roofs: Mapping[int, Peaks] | None = None) -> Machine:
    """The report's machine section, with the run's thread count's `peaks` and
    every thread count's `roofs` (engine.roofline.measure_roofs)."""
    return Machine(
        fingerprint=fingerprint(),
        hostname=socket.gethostname(),
        cpu_model=cpu_model(),
        cores=os.cpu_count() or 0,
        memory_bytes=memory_bytes(),
        os=platform.platform(),
        python=platform.python_version(),
        numpy=np.__version__,
        blas=blas_version(),
        peak_gflops=peaks.gflops,
        peak_gbs=peaks.gbs,
        roofs=[p.to_roof(t) for t, p in sorted((roofs or {}).items())],
    )


__all__ = ["Peaks", "blas_version", "cpu_model", "fingerprint", "last_level_cache_bytes", "machine_id", "machine_info",
           "memory_bytes"]
