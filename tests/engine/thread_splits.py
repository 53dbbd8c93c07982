"""Tests of kernels split over the engine's threads (engine.ops.parallel):
the thread limit at 2, with every split a module makes recorded."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from threadpoolctl import threadpool_limits

from engine.ops import parallel


@contextmanager
def two_threads() -> Iterator[None]:
    """The engine's thread limit at 2 inside; a skip where numpy's BLAS takes no limit."""
    with threadpool_limits(limits=2, user_api="blas"):
        if parallel.threads_allowed() != 2:
            pytest.skip("numpy's BLAS does not take a thread limit here")
        yield


@contextmanager
def two_thread_splits(monkeypatch: pytest.MonkeyPatch, *run_parts_of: str) -> Iterator[list[tuple[int, int]]]:
    """The engine's limit at 2 (a skip where numpy's BLAS takes no limit),
    and the list of (n, parts) of every run_parts call through the modules'
    names for it (`run_parts_of`: "engine.ops.norm.run_parts", ...)."""
    splits: list[tuple[int, int]] = []
    run_parts = parallel.run_parts

    def recording(part, n, parts):
        splits.append((n, parts))
        return run_parts(part, n, parts)

    for name in run_parts_of:
        monkeypatch.setattr(name, recording)
    with two_threads():
        yield splits
