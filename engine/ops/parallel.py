"""The engine's own threads: the kernels that are not BLAS split their work
over a shared pool, as many parts as the BLAS thread limit allows (what
threadpoolctl set: the engine's `--threads`).

Each part runs a numpy call (ufuncs and copies release the GIL) or a nogil
compiled kernel on its own slice, so Python threads run them in parallel.
The caller's thread takes the first part, the pool the others. numba's own
parallel layer is not used: its workqueue layer refuses concurrent callers
and its pool would not follow the limit. Python's pool threads sleep between
parts (they cannot spin without holding the GIL), hence the split threshold.
"""
from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np

# Elements each thread must get before work is split. Handing a part to a
# sleeping pool thread costs 110-125 us on the 2-core VM (an empty run_parts;
# the thread's wake-up), so a split only pays on about a millisecond of work:
# Relu on 2 threads measured 0.13-0.45x below 2^19 elements, 1.5x at 2^19 and
# 1.7x at 2^20; Sigmoid 0.63x at 2^16, 1.3x from 2^17 (2026-12-06, load < 1).
MIN_ELEMENTS_PER_THREAD = 1 << 18

CPUS = os.cpu_count() or 1  # read once: os.cpu_count() costs ~15 us a call
_pool_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None
_blas = None  # threadpoolctl's BLAS controllers, found once numpy's BLAS is loaded


def _blas_libs() -> list:
    global _blas
    if _blas is None:
        from threadpoolctl import ThreadpoolController

        _blas = ThreadpoolController().select(user_api="blas").lib_controllers
    return _blas


def threads_allowed() -> int:
    """The current BLAS thread limit (what `threadpool_limits` set), read
    from the libraries themselves (a few microseconds)."""
    counts = [n for lib in _blas_libs() if (n := lib.num_threads)]
    return max(counts) if counts else CPUS


@contextlib.contextmanager
def blas_on_one_thread() -> Iterator[None]:
    """BLAS limited to one thread inside, its limits restored after (~3 us
    each way): threads that each run their own GEMMs must not also share
    BLAS's pool (concurrent threaded calls queue for it). Inside, the
    engine's limit reads 1."""
    libs = _blas_libs()
    before = [lib.num_threads for lib in libs]
    for lib in libs:
        lib.set_num_threads(1)
    try:
        yield
    finally:
        for lib, threads in zip(libs, before):
            lib.set_num_threads(threads)


def pool() -> ThreadPoolExecutor:
    global _executor
    with _pool_lock:
        if _executor is None:
            _executor = _started(ThreadPoolExecutor(max_workers=CPUS, thread_name_prefix="engine"))
        return _executor


def _started(executor: ThreadPoolExecutor) -> ThreadPoolExecutor:
    """The executor with all its threads running, each with its malloc arena:
    the pool makes threads lazily, and a thread (its stack) or an arena made
    later, inside a timed pass, would take minor page faults there."""
    workers = executor._max_workers
    barrier = threading.Barrier(workers)  # each task waits for the others: one thread each
    wait([executor.submit(lambda: (barrier.wait(), np.empty(1 << 16, dtype=np.float32)))
          for _ in range(workers)])
    return executor


def split_threads(elements: int, limit: int, parts: int) -> int:
    """Threads for `elements` elements of work that cut into at most `parts`
    parts, under the thread `limit`: one unless each thread gets at least
    MIN_ELEMENTS_PER_THREAD."""
    return max(1, min(limit, parts, elements // MIN_ELEMENTS_PER_THREAD))


def threads_for(elements: int, parts: int) -> int:
    """split_threads under the current limit, read only when a split is
    possible at all."""
    return 1 if elements < 2 * MIN_ELEMENTS_PER_THREAD else split_threads(elements, threads_allowed(), parts)


def run_parts(part: Callable[[int, int], object], n: int, parts: int) -> None:
    """part(lo, hi) over `parts` about equal ranges of [0, n), the first on
    this thread and the rest on the pool; returns when all are done and
    re-raises the first error."""
    if parts <= 1:
        part(0, n)
        return
    edges = [n * i // parts for i in range(parts + 1)]
    futures = [pool().submit(part, lo, hi) for lo, hi in zip(edges[1:-1], edges[2:])]
    try:
        part(edges[0], edges[1])
    finally:
        wait(futures)  # never leave a part running on buffers the caller frees
    for f in futures:
        f.result()


__all__ = ["CPUS", "MIN_ELEMENTS_PER_THREAD", "blas_on_one_thread", "pool", "run_parts", "split_threads",
           "threads_allowed", "threads_for"]
