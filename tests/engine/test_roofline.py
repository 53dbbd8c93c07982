import json
from datetime import datetime, timedelta, timezone

import pytest

from engine import gather_roof, roofline
from engine.roofline import Peaks, measure_peaks, measure_roofs
from tests.engine.conftest import FAKE_GATHER


def test_the_first_call_measures_and_caches_and_the_second_reuses(probes, peaks_cache_dir):
    first = measure_peaks()
    assert (probes.gemm, probes.copy, probes.gather) == (1, 1, 1)
    files = list(peaks_cache_dir.glob("peaks-*.json"))
    assert len(files) == 1
    doc = json.loads(files[0].read_text())
    assert doc["schema"] == "roofwatch.peaks/2"
    assert (doc["peak_gflops"], doc["peak_gbs"]) == (first.gflops, first.gbs)
    assert doc["gather_gbs"] == {str(k): v for k, v in FAKE_GATHER.items()}
    assert doc["threads"] == first.threads == roofline.blas_threads()
    assert first.gather == FAKE_GATHER

    second = measure_peaks()
    assert second == first
    assert (probes.gemm, probes.copy, probes.gather) == (1, 1, 1)
    assert not list(peaks_cache_dir.glob(".*.tmp"))  # no temp file left behind


def test_remeasure_measures_again_and_keeps_the_best_of_both(probes, monkeypatch, peaks_cache_dir):
    measure_peaks()
    monkeypatch.setattr(roofline, "measure_gemm_gflops", lambda *a, **k: 50.0)  # a worse second try
    monkeypatch.setattr(roofline, "measure_copy_gbs", lambda *a, **k: 12.0)  # a better one
    monkeypatch.setattr(gather_roof, "measure_gather_gbs", lambda *a, **k: {64: 1.0, 256: 6.0, 512: 7.0})
    best = measure_peaks(remeasure=True)
    assert (best.gflops, best.gbs) == (100.0, 12.0)
    assert best.gather == {64: 2.0, 256: 6.0, 512: 7.0}
    (path,) = peaks_cache_dir.glob("peaks-*.json")
    assert json.loads(path.read_text())["measurements"] == 2
    assert measure_peaks() == best  # and the cache holds the best


def test_a_cache_older_than_the_age_limit_is_measured_again_from_scratch(probes, peaks_cache_dir):
    measure_peaks()
    (path,) = peaks_cache_dir.glob("peaks-*.json")
    doc = json.loads(path.read_text())
    old = datetime.now(timezone.utc) - timedelta(days=roofline.MAX_AGE_DAYS, hours=1)
    path.write_text(json.dumps({**doc, "measured_at": old.isoformat(), "peak_gflops": 1e9}))
    assert measure_peaks().gflops == 100.0  # the stale (and better) value is not kept
    assert probes.gemm == 2
    assert json.loads(path.read_text())["measurements"] == 1


def test_another_cpu_or_blas_gets_its_own_measurement(probes, monkeypatch):
    measure_peaks()
    monkeypatch.setattr(roofline.machine, "blas_version", lambda: "another-blas 9.9")
    measure_peaks()
    monkeypatch.setattr(roofline.machine, "fingerprint", lambda: "another-cpu")
    measure_peaks()
    assert probes.gemm == 3


def test_a_run_gets_its_thread_counts_roofs_and_the_one_thread_roofs(probes):
    roofs = measure_roofs(threads=2)
    assert sorted(roofs) == [1, 2]
    assert [p.threads for p in roofs.values()] == [1, 2]
    assert sorted(measure_roofs(threads=1)) == [1]
    assert probes.gemm == 2  # the 1-thread roofs come from the cache the second time


def test_a_damaged_cache_is_measured_again(probes, peaks_cache_dir):
    measure_peaks()
    (path,) = peaks_cache_dir.glob("peaks-*.json")
    path.write_text("{not json")
    assert measure_peaks() == Peaks(100.0, 10.0, FAKE_GATHER, roofline.blas_threads())
    assert probes.gemm == 2
    assert json.loads(path.read_text())["peak_gflops"] == 100.0


def test_the_cache_is_keyed_by_the_blas_thread_count(probes, monkeypatch):
    measure_peaks()
    monkeypatch.setattr(roofline, "blas_threads", lambda: 97)
    measure_peaks()
    assert probes.gemm == 2
    assert roofline.peaks_cache_path(97) != roofline.peaks_cache_path(1)


def test_the_probes_measure_something_real_on_small_sizes():
    assert roofline.measure_gemm_gflops(sizes=(64, 128), repeats=2) > 0
    assert roofline.measure_copy_gbs(mib=4, repeats=2, threads=2) > 0
    found = gather_roof.measure_gather_gbs(threads=2, row_bytes=(16, 72), mib=8, ids=4096, repeats=1)
    assert sorted(found) == [16, 72] and all(v > 0 for v in found.values())


def test_the_gather_roof_between_measured_row_sizes_is_interpolated():
    roof = {64: 2.0, 128: 4.0}
    assert gather_roof.gather_gbs_at(roof, 96) == pytest.approx(3.0)
    assert gather_roof.gather_gbs_at(roof, 16) == 2.0 and gather_roof.gather_gbs_at(roof, 4096) == 4.0
    assert gather_roof.gather_gbs_at({}, 64) is None
    with pytest.raises(ValueError, match="multiple of 8"):
        gather_roof.measure_gather_gbs(row_bytes=(12,), mib=1, ids=16)
