"""This machine's roofline: measured peak GFLOP/s and GB/s, cached per machine.

Peak compute is the best float32 GEMM numpy's BLAS reaches; peak bandwidth is
a stream copy over arrays far bigger than the last-level cache, counting the
bytes read plus the bytes written, split over the same number of threads BLAS
may use; the gather roof (engine.gather_roof) is random-row reads at the row
sizes the models use. All are measured per thread count, which is part of the
cache key: a run at 2 threads gets the 2-thread roofs, and its single-threaded
kernels are judged against the 1-thread roofs (`measure_roofs`).

Hygiene: a cached measurement older than MAX_AGE_DAYS is measured again, and
so is one from another CPU, core count, numpy, BLAS or numba (the key). A
re-measurement the caller asks for (`remeasure`, e.g. because a layer beat
its roof) keeps the best of the old and new values of each roof, and the
cache counts how many measurements it holds.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from engine import gather_roof, machine
from engine.atomic_file import write_text_atomic
from engine.machine import Peaks  # defined beside the fingerprint; still imported from here

CACHE_ENV = "ROOFWATCH_CACHE_DIR"
CACHE_SCHEMA = "roofwatch.peaks/2"
MAX_AGE_DAYS = 7
GEMM_SIZES = (512, 1024, 2048)
GEMM_REPEATS = 3
COPY_MIB = 256  # per array; two arrays, far beyond any L3 a 2-16 core slice sees
COPY_REPEATS = 5


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


def _numba_version() -> str:
    try:
        import numba
    except ImportError:
        return "none"
    return numba.__version__


def _cache_key(threads: int) -> str:
    parts = [machine.fingerprint(), str(threads), np.__version__, machine.blas_version(), _numba_version()]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _load(path: Path, key: str, now: datetime) -> tuple[Peaks, int] | None:
    """The cached peaks and how many measurements they hold, or None when the
    cache is missing, damaged, of another key or older than MAX_AGE_DAYS."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("schema") != CACHE_SCHEMA or doc.get("key") != key:
            return None
        measured = datetime.fromisoformat(doc["measured_at"])
        gather = {int(k): float(v) for k, v in doc["gather_gbs"].items()}
        peaks = Peaks(float(doc["peak_gflops"]), float(doc["peak_gbs"]), gather, int(doc["threads"]))
        count = int(doc["measurements"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # missing or damaged cache: measure again and overwrite it
    if not timedelta(0) <= now - measured <= timedelta(days=MAX_AGE_DAYS):
        return None
    if peaks.gflops <= 0 or peaks.gbs <= 0 or any(v <= 0 for v in gather.values()):
        return None
    return peaks, count


def peaks_cache_path(threads: int | None = None) -> Path:
    threads = threads or blas_threads()
    return cache_dir() / f"peaks-{_cache_key(threads)}.json"


def _measure(threads: int) -> Peaks:
    with threadpool_limits(limits=threads, user_api="blas"):
        gflops = measure_gemm_gflops()
    return Peaks(gflops=gflops, gbs=measure_copy_gbs(threads=threads),
                 gather=gather_roof.measure_gather_gbs(threads=threads), threads=threads)


def _best(a: Peaks, b: Peaks) -> Peaks:
    gather = {k: max(a.gather.get(k, 0.0), b.gather.get(k, 0.0)) for k in {*a.gather, *b.gather}}
    return Peaks(max(a.gflops, b.gflops), max(a.gbs, b.gbs), gather, b.threads)


def measure_peaks(remeasure: bool = False, threads: int | None = None) -> Peaks:
    """This machine's peaks at `threads` (default: the current BLAS thread
    limit), from the cache unless `remeasure` (or the cache is missing,
    unreadable or stale); a re-measurement keeps the best of old and new."""
    threads = threads or blas_threads()
    key = _cache_key(threads)
    path = cache_dir() / f"peaks-{key}.json"
    now = datetime.now(timezone.utc)
    cached = _load(path, key, now)
    if cached is not None and not remeasure:
        return cached[0]
    peaks = _measure(threads)
    count = 1
    if cached is not None:
        peaks, count = _best(cached[0], peaks), cached[1] + 1
    doc = {
        "schema": CACHE_SCHEMA,
        "key": key,
        "fingerprint": machine.fingerprint(),
        "threads": threads,
        "numpy": np.__version__,
        "blas": machine.blas_version(),
        "numba": _numba_version(),
        "measured_at": now.isoformat(timespec="seconds"),
        "measurements": count,
        "peak_gflops": peaks.gflops,
        "peak_gbs": peaks.gbs,
        "gather_gbs": {str(k): v for k, v in sorted(peaks.gather.items())},
    }
    write_text_atomic(path, json.dumps(doc, indent=1, sort_keys=True) + "\n")
    return peaks


def measure_roofs(threads: int | None = None, remeasure: bool = False) -> dict[int, Peaks]:
    """The roofs a run at `threads` (default: the BLAS limit) is judged
    against: its own thread count's and, for single-threaded kernels, 1's."""
    threads = threads or blas_threads()
    return {t: measure_peaks(remeasure, t) for t in sorted({1, threads})}
