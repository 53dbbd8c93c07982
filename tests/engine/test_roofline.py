import json

import pytest

from engine import roofline
from engine.roofline import Peaks, attainable_gflops, bound_of, measure_peaks, percent_of_roof, ridge_point


def test_roofline_helpers():
    peaks = Peaks(gflops=200.0, gbs=20.0)
    assert ridge_point(peaks) == peaks.ridge == 10.0
    assert bound_of(10.0, peaks) == "compute"
    assert bound_of(9.99, peaks) == "bandwidth"
    assert attainable_gflops(2.0, peaks) == 40.0
    assert attainable_gflops(50.0, peaks) == 200.0
    assert percent_of_roof(20.0, 2.0, peaks) == pytest.approx(50.0)
    assert percent_of_roof(150.0, 50.0, peaks) == pytest.approx(75.0)
    assert percent_of_roof(1.0, 0.0, peaks) == 0.0


def test_the_first_call_measures_and_caches_and_the_second_reuses(probes, peaks_cache_dir):
    first = measure_peaks()
    assert (probes.gemm, probes.copy) == (1, 1)
    files = list(peaks_cache_dir.glob("peaks-*.json"))
    assert len(files) == 1
    doc = json.loads(files[0].read_text())
    assert doc["schema"] == "roofwatch.peaks/1"
    assert (doc["peak_gflops"], doc["peak_gbs"]) == (first.gflops, first.gbs)
    assert doc["threads"] == roofline.blas_threads()

    second = measure_peaks()
    assert second == first
    assert (probes.gemm, probes.copy) == (1, 1)
    assert not list(peaks_cache_dir.glob(".*.tmp"))  # no temp file left behind


def test_remeasure_ignores_the_cache(probes):
    measure_peaks()
    measure_peaks(remeasure=True)
    assert (probes.gemm, probes.copy) == (2, 2)


def test_a_damaged_cache_is_measured_again(probes, peaks_cache_dir):
    measure_peaks()
    (path,) = peaks_cache_dir.glob("peaks-*.json")
    path.write_text("{not json")
    assert measure_peaks() == Peaks(100.0, 10.0)
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
