"""Steady state before timing: after warmup no recorded pass takes a minor
page fault, counted into ProfileResult.timed_page_faults. Each case runs in a
fresh process, since malloc's settings are process-wide and sticky."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

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
    proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(cases), "keep" if keep_heap else "defaults"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.skipif(sys.platform != "linux", reason="ru_minflt and mallopt: Linux with glibc")
def test_no_minor_fault_in_the_timed_passes_of_zoo_models():
    results = faults_in_a_fresh_process(ZOO, keep_heap=True)
    assert [(name, faults) for name, faults, _ in results] == [(name, 0) for name, _ in ZOO]


@pytest.mark.skipif(sys.platform != "linux", reason="ru_minflt and mallopt: Linux with glibc")
def test_with_mallocs_defaults_big_intermediates_fault_on_every_pass_and_it_is_counted():
    """What the zero above guards against: glibc left alone maps big tensors
    afresh (or trims them away) and every page is faulted in again, pass
    after pass, so warmup stops at its bound and the faults are reported."""
    [(name, faults, warmup)] = faults_in_a_fresh_process([BIG_MLP], keep_heap=False)
    assert faults >= 10 * 256  # at least one 1 MiB tensor's 256 pages in each of the 10 pairs
    assert warmup == 3 + 3  # settle's bound: the faults never stopped
