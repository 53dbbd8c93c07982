"""What machine this is, for the run report: a stable fingerprint plus the
hardware and software facts that explain its numbers."""
from __future__ import annotations

import hashlib
import os
import platform
import socket
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from engine.report import Machine

MACHINE_ID_PATHS = ("/etc/machine-id", "/var/lib/dbus/machine-id")


@dataclass(frozen=True)
class Peaks:
    """This machine's roofs, as engine.roofline measures them (which keys
    its cache by our fingerprint, so it imports this module, not the reverse)."""

    gflops: float  # peak float32 GFLOP/s
    gbs: float  # peak memory GB/s (1 GB = 1e9 bytes)

    @property
    def ridge(self) -> float:
        """The arithmetic intensity (FLOPs/byte) where the roofs meet."""
        return self.gflops / self.gbs


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


def machine_info(peaks: Peaks) -> Machine:
    """The report's machine section, with `peaks` (engine.roofline.measure_peaks)."""
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
    )


__all__ = ["Peaks", "blas_version", "cpu_model", "fingerprint", "machine_id", "machine_info", "memory_bytes"]
