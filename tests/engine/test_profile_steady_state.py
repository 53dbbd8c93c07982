"""Steady state before timing: after warmup no recorded pass takes a minor
page fault, counted into ProfileResult.timed_page_faults. Each case runs in a
fresh process, since malloc's settings are process-wide and sticky."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.malloc_tuning import steady_env

ROOT = Path(__file__).resolve().parents[2]
# mlp at batch 256: 1 MiB intermediates, far above glibc's default 128 KiB mmap threshold.
BIG_MLP = ("mlp", {"batch": 256})
# Not resnet_small: its conv path grows Python's own small-object pools for
# ~100 passes and then takes about one fault per 100 passes (pymalloc, not a
# tensor; seen with perf record -e minor-faults), which no warmup bound here removes.
ZOO = [BIG_MLP, ("transformer_small", {}), ("dlrm_small", {}), ("din_small", {}), ("dien_small", {}),
       ("wdl_small", {})]

CHILD = """
import json, sys
from engine.models import build_model
from engine.profile import profile
from engine.roofline import Peaks
cases, keep_heap = json.loads(sys.argv[1]), sys.argv[2] == "keep"
out = []
for name, params in cases:
    model = build_model(name, **params)
    r = profile(model.graph, model.make_inputs(0), warmup=3, repeats=10, peaks=Peaks(100.0, 10.0),
                keep_heap=keep_heap, settle=3)
    out.append([name, r.timed_page_faults, r.warmup])
print(json.dumps(out))
"""


def faults_in_a_fresh_process(cases, keep_heap: bool) -> list:
    """Each case's faults, profiled in a process started as the agent starts the engine (steady_env)."""
    proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(cases), "keep" if keep_heap else "defaults"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env=steady_env())
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.skipif(sys.platform != "linux", reason="ru_minflt and mallopt: Linux with glibc")
def test_no_minor_fault_in_the_timed_passes_of_zoo_models():
    faults = {name: count for name, count, _ in faults_in_a_fresh_process(ZOO, keep_heap=True)}
    assert list(faults) == [name for name, _ in ZOO]
    # No tensor's pages are faulted in again (that would be tens of faults a pair), and
    # with Python's small objects on malloc's kept heap (steady_env) no object arena either.
    assert faults == {name: 0 for name, _ in ZOO}, faults


@pytest.mark.skipif(sys.platform != "linux", reason="ru_minflt and mallopt: Linux with glibc")
def test_with_mallocs_defaults_big_intermediates_fault_on_every_pass_and_it_is_counted():
    """What the zero above guards against: glibc left alone maps big tensors
    afresh (or trims them away) and every page is faulted in again, pass
    after pass, so warmup stops at its bound and the faults are reported."""
    [(name, faults, warmup)] = faults_in_a_fresh_process([BIG_MLP], keep_heap=False)
    assert faults >= 10 * 256  # at least one 1 MiB tensor's 256 pages in each of the 10 pairs
    assert warmup == 3 + 3  # settle's bound: the faults never stopped


class ScriptedFaults:
    """engine.profile.minor_faults stand-in: pair k (0-based, two reads each)
    takes faults[k] faults, 0 past the script's end."""

    def __init__(self, faults):
        self.faults, self.reads, self.total = list(faults), 0, 0

    def __call__(self) -> int:
        pair, second = divmod(self.reads, 2)
        self.reads += 1
        if second and pair < len(self.faults):
            self.total += self.faults[pair]
        return self.total


@pytest.fixture
def small():
    from engine.models import build_model

    return build_model("mlp", batch=2, sizes=[8, 4])


@pytest.mark.parametrize(("faults", "warmup", "settle", "want_warmup", "want_timed"), [
    ([5, 0, 0], 1, 20, 3, 0),  # 1 asked, then 2 fault-free pairs in a row
    ([5, 5, 5, 5, 0, 3, 0, 0], 2, 20, 8, 0),  # a fault between clean pairs restarts the count
    ([5] * 30, 2, 4, 6, 5 * 4),  # never settles: stops at the bound, the recorded pairs' faults counted
    ([5, 5, 0, 0], 0, 20, 0, 10),  # warmup 0 asks for a cold run: no settling
])
def test_warmup_settles_until_pages_stop_faulting(monkeypatch, small, peaks, faults, warmup, settle, want_warmup,
                                                   want_timed):
    from engine import profile as profile_module

    monkeypatch.setattr(profile_module, "minor_faults", ScriptedFaults(faults))
    r = profile_module.profile(small.graph, small.make_inputs(0), warmup=warmup, repeats=4, peaks=peaks,
                               settle=settle)
    assert (r.warmup, r.repeats, r.timed_page_faults) == (want_warmup, 4, want_timed)


def test_target_ci_settles_again_after_each_growth(monkeypatch, small, peaks):
    """The CI's arithmetic between batches can move memory; an unrecorded pair
    (up to RESETTLE_PAIRS, until one is clean) runs before recording resumes."""
    from engine import profile as profile_module

    # pairs 0-1: warmup (1 asked, 2 clean in a row), 2-7: the 6 recorded; then after the
    # CI check pair 8 faults and pair 9 is clean, and only then is pair 10 recorded.
    monkeypatch.setattr(profile_module, "minor_faults", ScriptedFaults([0] * 8 + [7, 0]))
    rng = np.random.default_rng(3)
    now = [0]

    def clock() -> int:  # 1-10 us between reads: the CI never gets to 0.01%
        now[0] += int(rng.integers(1000, 10_000))
        return now[0]

    r = profile_module.profile(small.graph, small.make_inputs(0), warmup=1, repeats=6, peaks=peaks,
                               clock=clock, target_ci=0.01, budget_s=1e-3)
    assert r.timed_page_faults == 0 and r.repeats > 6 and r.target_met is False
    assert r.warmup >= 2 + 2  # the first growth's two settling pairs count as warmup
