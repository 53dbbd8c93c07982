"""Keep big intermediates' memory mapped between forward passes (glibc only).

glibc serves every allocation above its mmap threshold (dynamic, at most
32 MiB on 64-bit) with a fresh mmap and unmaps it on free, so a model whose
intermediates are that big (the transformer at batch 256) takes a page fault
for every page of every such tensor on every pass. `keep_heap_memory()`
turns mmap allocation off and raises the trim threshold, so freed blocks
stay in the heap for the next pass to reuse. The cost: the process keeps its
peak heap instead of returning it to the OS. `restore_defaults()` undoes it
(glibc's settled state; a fresh process is not yet in it, which is what
benchmarks/malloc_speed.py races against: RunnerSpec.keep_heap=False).

Anywhere but Linux with glibc both are no-ops returning False.

Python's own small objects are the other source of faults: pymalloc maps
and unmaps its 256 KiB arenas itself, outside malloc, so the Python an op
runs per call now and then faults a fresh arena in inside a timed pass
(transformer_small: 0-3 faults in a profile). That allocator is chosen when
the interpreter starts, so `steady_env` is the environment for a process
that will time the engine: PYTHONMALLOC=malloc, small objects from malloc's
kept heap too (0 faults in the same runs; no measurable cost per node on
benchmarks/dispatch_overhead.py). The agent's engine subprocess and the
race's engine workers start with it.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
from collections.abc import Mapping

# mallopt parameters, from glibc's malloc.h
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_MMAP_MAX = -4

TRIM_THRESHOLD = 1 << 30  # keep up to 1 GiB of freed heap at the top
# What glibc's defaults settle at once big blocks have been freed (its dynamic
# threshold rises to the largest freed mmapped block, at most 32 MiB on 64-bit,
# with the trim threshold at twice that); any mallopt call freezes the
# dynamic adjustment, so restore_defaults sets this steady state explicitly.
GLIBC_MMAP_MAX = 65536
GLIBC_MMAP_THRESHOLD = 32 * 1024 * 1024
GLIBC_TRIM_THRESHOLD = 2 * GLIBC_MMAP_THRESHOLD

_libc = None


def _mallopt():
    global _libc
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        _libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
        _libc.mallopt.restype = ctypes.c_int
    return _libc.mallopt


def keep_heap_memory() -> bool:
    """Serve big allocations from the heap and keep freed memory; True if applied."""
    mallopt = _mallopt()
    if mallopt is None:
        return False
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))


def restore_defaults() -> bool:
    """glibc's defaults again, in the state they reach in a process that has
    freed big blocks: mmap above 32 MiB, trim above 64 MiB."""
    mallopt = _mallopt()
    if mallopt is None:
        return False
    return (bool(mallopt(M_MMAP_MAX, GLIBC_MMAP_MAX)) and bool(mallopt(M_TRIM_THRESHOLD, GLIBC_TRIM_THRESHOLD))
            and bool(mallopt(M_MMAP_THRESHOLD, GLIBC_MMAP_THRESHOLD)))


def steady_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """`base` (default: this process's environment) with PYTHONMALLOC=malloc
    unless it names an allocator already."""
    env = dict(os.environ if base is None else base)
    env.setdefault("PYTHONMALLOC", "malloc")
    return env
