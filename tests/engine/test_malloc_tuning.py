import platform

import numpy as np
import pytest

from engine import malloc_tuning


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_it_applies_on_glibc_and_big_arrays_still_work_both_ways():
    try:
        assert malloc_tuning.keep_heap_memory() is True
        a = np.ones(10_000_000, dtype=np.float32)  # 40 MB: above glibc's largest mmap threshold
        assert float(a.sum()) == 10_000_000.0
    finally:
        assert malloc_tuning.restore_defaults() is True
    assert float(np.ones(10_000_000, dtype=np.float32).sum()) == 10_000_000.0


def test_it_is_a_no_op_returning_false_without_glibc(monkeypatch):
    monkeypatch.setattr(malloc_tuning.platform, "libc_ver", lambda: ("", ""))
    assert malloc_tuning.keep_heap_memory() is False
    assert malloc_tuning.restore_defaults() is False


def test_steady_env_puts_python_objects_on_malloc_unless_an_allocator_is_named():
    from engine.malloc_tuning import steady_env

    assert steady_env({"PATH": "/bin"}) == {"PATH": "/bin", "PYTHONMALLOC": "malloc"}
    assert steady_env({"PYTHONMALLOC": "pymalloc_debug"})["PYTHONMALLOC"] == "pymalloc_debug"
