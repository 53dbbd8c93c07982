"""Chunks handed out to the engine's threads (engine.ops.chunked): every
chunk runs once, each thread keeps its own scratch, and a thread held up on
one chunk leaves the others to the free thread."""
import threading

import pytest

from engine.ops.chunked import run_chunks


@pytest.mark.parametrize(("n", "size", "threads"), [(10, 3, 1), (10, 3, 2), (7, 7, 2), (1, 4, 3), (0, 2, 2)])
def test_every_chunk_runs_once_and_covers_the_range(n, size, threads):
    seen = []
    lock = threading.Lock()

    def chunk(lo, hi, scratch):
        with lock:
            seen.append((lo, hi))

    run_chunks(chunk, list, n, size, threads)
    assert sorted(seen) == [(lo, min(n, lo + size)) for lo in range(0, n, size)]


def test_each_thread_keeps_its_own_scratch_across_its_chunks():
    owners = {}
    lock = threading.Lock()

    def chunk(lo, hi, scratch):
        scratch.append(lo)
        with lock:
            owners[lo] = (threading.get_ident(), id(scratch))

    run_chunks(chunk, list, 40, 1, 2)
    per_scratch = {}
    for ident, scratch in owners.values():
        per_scratch.setdefault(scratch, set()).add(ident)
    assert all(len(idents) == 1 for idents in per_scratch.values())  # a scratch never crosses threads


def test_a_held_up_thread_leaves_the_other_chunks_to_the_free_one():
    count, done, released = 12, [], threading.Event()
    lock = threading.Lock()

    def chunk(lo, hi, scratch):
        if lo == 0:
            assert released.wait(timeout=30), "the free thread never took the other chunks"
        with lock:
            done.append((lo, threading.get_ident()))
            if len(done) == count - 1:
                released.set()

    run_chunks(chunk, list, count, 1, 2)
    held = next(ident for lo, ident in done if lo == 0)
    assert [lo for lo, ident in done if ident == held] == [0]
