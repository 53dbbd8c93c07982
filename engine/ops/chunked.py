"""Work cut into chunks handed out one at a time to the engine's threads.

engine.ops.parallel.run_parts gives each thread one fixed range: the
layer ends when the slowest range does. On the shared 2-core machines a
thread often loses its core for a while to another process, and a layer
split in halves then waits for the stalled half. Here each thread takes the
next chunk when it is done with its last one, so a stalled thread holds up
one chunk at most. Each thread keeps its own scratch buffers across its
chunks.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TypeVar

from engine.ops.parallel import run_parts

Scratch = TypeVar("Scratch")


def run_chunks(chunk: Callable[[int, int, Scratch], object], scratch: Callable[[], Scratch], n: int, size: int,
               threads: int) -> None:
    """chunk(lo, hi, s) for the chunks [lo, hi) of [0, n), `size` long (the
    last one shorter), on `threads` threads (this one and the engine's pool),
    each with its own s = scratch(); returns when all are done."""
    starts = itertools.count(0, size)  # next() is atomic under the GIL: each start is taken once

    def part(_lo: int, _hi: int) -> None:
        s = scratch()
        for lo in starts:
            if lo >= n:
                return
            chunk(lo, min(n, lo + size), s)

    run_parts(part, threads, threads)


__all__ = ["run_chunks"]
