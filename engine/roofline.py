"""This machine's roofline: measured peak GFLOP/s and GB/s, cached per machine.

Peak compute is the best float32 GEMM numpy's BLAS reaches; peak bandwidth is
a stream copy over arrays far bigger than the last-level cache, counting the
bytes read plus the bytes written, split over the same number of threads BLAS
may use. Both are measured under the current BLAS thread limit, which is part
of the cache key: a run limited to one thread gets a one-thread roof.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info

from engine import machine
from engine.atomic_file import write_text_atomic
from engine.machine import Peaks  # defined beside the fingerprint; still imported from here
from engine.report import BOUNDS

CACHE_ENV = "ROOFWATCH_CACHE_DIR"
CACHE_SCHEMA = "roofwatch.peaks/1"
GEMM_SIZES = (512, 1024, 2048)
GEMM_REPEATS = 3
COPY_MIB = 256  # per array; two arrays, far beyond any L3 a 2-16 core slice sees
COPY_REPEATS = 5


def ridge_point(peaks: Peaks) -> float:
    """The arithmetic intensity (FLOPs/byte) where the roofs meet."""
    return peaks.ridge


def bound_of(ai: float, peaks: Peaks) -> str:
    """'compute' when the intensity reaches the ridge point, else 'bandwidth'."""
    return BOUNDS[0] if ai >= ridge_point(peaks) else BOUNDS[1]


def attainable_gflops(ai: float, peaks: Peaks) -> float:
    return min(peaks.gflops, ai * peaks.gbs)


def percent_of_roof(gflops: float, ai: float, peaks: Peaks) -> float:
    """Achieved GFLOP/s as a percentage of what the roofline allows at `ai`."""
    roof = attainable_gflops(ai, peaks)
    return 100.0 * gflops / roof if roof > 0 else 0.0


def blas_threads() -> int:
    counts = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
    return max(counts) if counts else (os.cpu_count() or 1)


def measure_gemm_gflops(sizes: tuple[int, ...] = GEMM_SIZES, repeats: int = GEMM_REPEATS) -> float:
    best = 0.0
    rng = np.random.default_rng(0)
    for n in sizes:
        a = rng.standard_normal((n, n), dtype=np.float32)
        b = rng.standard_normal((n, n), dtype=np.float32)
        c = np.empty((n, n), dtype=np.float32)
        np.matmul(a, b, out=c)  # warm: BLAS threads, pages, caches
        for _ in range(repeats):
            t0 = time.perf_counter_ns()
            np.matmul(a, b, out=c)
            dt = time.perf_counter_ns() - t0
            best = max(best, 2 * n**3 / dt)  # FLOPs per ns == GFLOP/s
    return best


def measure_copy_gbs(mib: int = COPY_MIB, repeats: int = COPY_REPEATS, threads: int | None = None) -> float:
    threads = threads or blas_threads()
    n = mib * 2**20 // 4
    src = np.empty(n, dtype=np.float32)
    src.fill(1.0)  # touch every page before timing
    dst = np.empty_like(src)
    bounds = np.linspace(0, n, threads + 1, dtype=np.int64)
    chunks = [(src[lo:hi], dst[lo:hi]) for lo, hi in zip(bounds[:-1], bounds[1:])]
    best = 0.0
    with ThreadPoolExecutor(max_workers=threads) as pool:
        def copy_all() -> None:  # numpy releases the GIL for the copy loop
            list(pool.map(lambda c: np.copyto(c[1], c[0]), chunks))

        copy_all()  # touches dst
        for _ in range(repeats):
            t0 = time.perf_counter_ns()
            copy_all()
            dt = time.perf_counter_ns() - t0
            best = max(best, 2 * src.nbytes / dt)  # bytes per ns == GB/s
    return best


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "roofwatch")


def _cache_key(threads: int) -> str:
    parts = [machine.fingerprint(), str(threads), np.__version__, machine.blas_version()]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _load(path: Path, key: str) -> Peaks | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("schema") != CACHE_SCHEMA or doc.get("key") != key:
            return None
        gflops, gbs = float(doc["peak_gflops"]), float(doc["peak_gbs"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # missing or damaged cache: measure again and overwrite it
    return Peaks(gflops, gbs) if gflops > 0 and gbs > 0 else None


def peaks_cache_path(threads: int | None = None) -> Path:
    threads = threads or blas_threads()
    return cache_dir() / f"peaks-{_cache_key(threads)}.json"


def measure_peaks(remeasure: bool = False) -> Peaks:
    """This machine's peaks under the current BLAS thread limit, from the cache
    unless `remeasure` (or the cache is missing or unreadable)."""
    threads = blas_threads()
    key = _cache_key(threads)
    path = cache_dir() / f"peaks-{key}.json"
    if not remeasure and (cached := _load(path, key)) is not None:
        return cached
    peaks = Peaks(gflops=measure_gemm_gflops(), gbs=measure_copy_gbs(threads=threads))
    doc = {
        "schema": CACHE_SCHEMA,
        "key": key,
        "fingerprint": machine.fingerprint(),
        "threads": threads,
        "numpy": np.__version__,
        "blas": machine.blas_version(),
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "peak_gflops": peaks.gflops,
        "peak_gbs": peaks.gbs,
    }
    write_text_atomic(path, json.dumps(doc, indent=1, sort_keys=True) + "\n")
    return peaks
