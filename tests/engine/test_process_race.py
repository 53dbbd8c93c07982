"""The process race: each runtime in its own worker process, one at a time.
Its onnxruntime times agree with onnxruntime run alone; an engine worker
keeps heap memory unless its spec says not to; a worker's error, death or
silence comes back naming it, and no worker outlives its race."""
from __future__ import annotations

import pytest

from engine.models import ModelParamError
from engine.onnx_io.process_race import (
    RaceWorkerError,
    RaceWorkers,
    RunnerSpec,
    Samples,
    block_sizes,
    engine_vs_ort,
    race_processes,
)

TINY = {"batch": 3, "sizes": [16, 32, 4]}
# Passes of a few ms at 1 thread: ORT about 2.5 ms, the engine about 5 ms on a quiet 2-core box.
AGREEMENT_MODEL = ("mlp", {"batch": 128})
ROUNDS, REPEATS = 3, 30
# Allowed gap between two medians: this share of the reference plus the mean of their interquartile ranges.
# The in-process race this replaced set onnxruntime at 14.5-17.9 ms against 7.8 ms alone (mlp at batch 256,
# 2 threads): 86-130% off, far outside it.
RELATIVE_SLACK = 0.25


def agree_within_noise(measured: Samples, reference: Samples) -> bool:
    allowed = RELATIVE_SLACK * reference.median + (measured.iqr + reference.iqr) / 2
    return abs(measured.median - reference.median) <= allowed


def test_onnxruntime_times_in_the_race_agree_with_onnxruntime_alone():
    """Rounds alternate ORT alone and the race, so that drift in machine load hits both alike."""
    specs = engine_vs_ort(*AGREEMENT_MODEL, threads=1)
    alone, raced = [], []
    with RaceWorkers({"ort": specs["ort"]}) as solo, RaceWorkers(specs) as race:
        for _ in range(ROUNDS):
            alone += solo.race(repeats=REPEATS, warmup=2).samples["ort"].times_s
            result = race.race(repeats=REPEATS, warmup=2)
            raced += result.samples["ort"].times_s
    alone_s, raced_s = Samples(tuple(alone)), Samples(tuple(raced))
    assert len(raced) == ROUNDS * REPEATS and len(result.samples["ours"].times_s) == REPEATS
    assert agree_within_noise(raced_s, alone_s), (
        f"onnxruntime raced {raced_s.text()} vs alone {alone_s.text()}; {result.load_text()}")


def test_the_agreement_check_rejects_what_the_in_process_race_measured():
    alone = Samples((7.6e-3, 7.8e-3, 7.8e-3, 8.0e-3))
    assert not agree_within_noise(Samples((14.5e-3, 15.5e-3, 16.5e-3, 17.9e-3)), alone)
    assert agree_within_noise(Samples((7.7e-3, 8.0e-3, 8.2e-3, 8.4e-3)), alone)


def test_a_race_times_every_runner_its_repeats_in_blocks_and_records_the_load():
    result = race_processes(engine_vs_ort("mlp", TINY, threads=1), repeats=7, warmup=1, blocks=3)
    assert {name: len(s.times_s) for name, s in result.samples.items()} == {"ours": 7, "ort": 7}
    assert all(t > 0 for s in result.samples.values() for t in s.times_s)
    assert result.ratio("ours", "ort") == pytest.approx(result.samples["ours"].median / result.samples["ort"].median)
    assert result.threads == {"ours": 1, "ort": 1}
    assert "load average (1 min)" in result.load_text()


def test_an_engine_worker_keeps_heap_memory_unless_told_not_to():
    """mlp at batch 256 frees 1 MiB intermediates: glibc as a fresh process has it returns them to the
    OS and faults them in again on every pass (about 480 minor faults a pass); keep_heap_memory() reuses them."""
    mlp = {"batch": 256}
    specs = {"kept": RunnerSpec("engine", "mlp", mlp), "default": RunnerSpec("engine", "mlp", mlp, keep_heap=False)}
    result = race_processes(specs, repeats=4, warmup=2, blocks=2)
    kept, default = result.samples["kept"], result.samples["default"]
    assert default.faults_per_pass > 100, f"glibc defaults took {default.minor_faults} faults in 4 passes"
    assert kept.minor_faults <= default.minor_faults / 20, f"kept {kept.minor_faults}, default {default.minor_faults}"


def test_repeats_split_into_near_equal_blocks_and_bad_counts_are_refused():
    assert block_sizes(7, 3) == [3, 2, 2]
    assert block_sizes(2, 5) == [1, 1]
    with pytest.raises(ValueError, match="repeats must be >= 1, got 0"):
        race_processes(engine_vs_ort("mlp", TINY, threads=1), repeats=0)
    with pytest.raises(ValueError, match="blocks must be >= 1"):
        block_sizes(3, 0)


def test_a_bad_spec_is_refused_naming_the_field():
    with pytest.raises(ValueError, match="runtime must be one of engine, ort, torch, ort-profiled, got 'tvm'"):
        RunnerSpec("tvm", "mlp")
    with pytest.raises(ValueError, match="threads must be >= 1, got 0"):
        RunnerSpec("ort", "mlp", threads=0)


def test_a_worker_error_comes_back_as_itself_with_the_worker_traceback():
    with pytest.raises(ModelParamError, match="need at least 2 sizes") as caught:
        race_processes({"bad": RunnerSpec("engine", "mlp", {"sizes": [3]})}, repeats=1)
    note = "\n".join(caught.value.__notes__)
    assert "in race worker 'bad' (engine mlp)" in note and "Traceback" in note and "build_mlp" in note


def test_a_worker_that_dies_is_named_and_the_others_are_stopped():
    with RaceWorkers(engine_vs_ort("mlp", TINY, threads=1)) as workers:
        workers.workers["ort"].process.kill()
        with pytest.raises(RaceWorkerError, match=r"race worker 'ort' \(ort mlp\) died with exit status -9"):
            workers.race(repeats=2)
        assert all(w.process.poll() is not None for w in workers.workers.values())


def test_a_silent_worker_is_killed_after_the_timeout():
    workers = RaceWorkers({"slow": RunnerSpec("engine", "mlp", TINY)}, timeout_s=0.01)
    with pytest.raises(RaceWorkerError, match=r"race worker 'slow' \(engine mlp\) gave no answer in 0.01 s"):
        workers.__enter__()  # the worker is still importing numpy when the build's answer is due
    assert workers.workers["slow"].process.poll() is not None


def test_workers_exit_when_the_race_is_over():
    with RaceWorkers(engine_vs_ort("mlp", TINY, threads=1)) as workers:
        workers.race(repeats=1, warmup=0)
    assert all(w.process.returncode == 0 for w in workers.workers.values())


def test_a_pinned_worker_runs_on_its_cores_only_and_the_rest_float():
    import os

    first = min(os.sched_getaffinity(0))
    specs = {"pinned": RunnerSpec("engine", "mlp", TINY, cores=(first,)), "free": RunnerSpec("engine", "mlp", TINY)}
    with RaceWorkers(specs) as workers:
        assert os.sched_getaffinity(workers.workers["pinned"].process.pid) == {first}
        assert os.sched_getaffinity(workers.workers["free"].process.pid) == os.sched_getaffinity(0)
    with pytest.raises(ValueError, match="cores must be a non-empty set"):
        RunnerSpec("engine", "mlp", cores=())


def test_workers_run_together_and_say_when_their_timed_passes_began_and_ended():
    model, params = AGREEMENT_MODEL  # passes of milliseconds: far longer than handing out the command
    specs = {f"i{n}": RunnerSpec("engine", model, params) for n in range(2)}
    with RaceWorkers(specs) as workers:
        windows = workers.run_together(repeats=5, warmup=1)
    assert set(windows) == {"i0", "i1"}
    for w in windows.values():
        assert len(w.times_s) == 5 and w.end - w.start >= sum(w.times_s)
    # together: each window opens before the other closes
    assert windows["i0"].start < windows["i1"].end and windows["i1"].start < windows["i0"].end
