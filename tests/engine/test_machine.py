import re

import numpy as np

from engine import machine
from engine.roofline import Peaks


def test_the_fingerprint_is_a_stable_sha256():
    first = machine.fingerprint()
    machine.fingerprint.cache_clear()
    assert machine.fingerprint() == first
    assert re.fullmatch(r"[0-9a-f]{64}", first)


def test_the_fingerprint_changes_with_the_machine_id(monkeypatch):
    before = machine.fingerprint()
    machine.fingerprint.cache_clear()
    monkeypatch.setattr(machine, "machine_id", lambda: "another-machine")
    try:
        assert machine.fingerprint() != before
    finally:
        machine.fingerprint.cache_clear()


def test_machine_info_fills_every_field_and_uses_the_given_peaks():
    info = machine.machine_info(Peaks(123.0, 45.0))
    assert (info.peak_gflops, info.peak_gbs) == (123.0, 45.0)
    assert info.cores >= 1 and info.memory_bytes > 0
    assert info.numpy == np.__version__
    assert info.cpu_model and info.hostname and info.os and info.python
    assert info.blas and info.blas != "unknown"
