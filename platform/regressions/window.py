"""The data detection reads: the latest runs of one benchmark on one machine,
with each series (end-to-end and one per layer) as a vector over those runs,
and the roofline observations classification needs. Two queries for the
series, one more per classified change."""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

from engine.report import CONFIDENCE, END_TO_END
from regressions.classify import LayerObs, RunObs
from results.models import LayerMeasurement, Run

RUN_FIELDS = ("id", "started_at", "median", "p25", "p75", "min", "n", "ci_low", "ci_high", "peak_gflops", "peak_gbs")

# The within-run spread detection gets per point (changepoints.detect_changes' `spread`, an IQR of
# the repeats: IQR / 1.349 is their sigma, a floor on the series' noise scale). Where the point
# carries the CONFIDENCE interval of its median, that interval says it better (order statistics:
# no assumption on the noise's shape), converted to the IQR it implies for normal noise:
#   sigma_median = (ci_high - ci_low) / (2 * Z)           Z = 1.96: a 95% interval is +-1.96 sigma_median
#   sigma        = sigma_median * sqrt(n) / sqrt(pi / 2)  the median of n repeats has sigma_median
#                                                         = sqrt(pi / 2) * sigma / sqrt(n)
#   spread       = 1.349 * sigma                          the IQR of normal noise
# So for normal noise the CI gives the spread the IQR gave, a tight CI (steady repeats) a smaller
# floor, a wide one (a noisy run, or heavy tails the IQR misses) a larger one. Without a CI
# (older reports, too few repeats): p75 - p25.
_Z = NormalDist().inv_cdf(0.5 + CONFIDENCE / 2)
_MEDIAN_SE_PER_SIGMA = math.sqrt(math.pi / 2)  # times sigma / sqrt(n)
_IQR_PER_SIGMA = 1.349


def within_run_spread(p25: float, p75: float, ci_low: float | None, ci_high: float | None, n: int | None) -> float:
    """The spread of one point for detection (see above): from its median's CI, else its IQR."""
    if ci_low is None or ci_high is None or not n:
        return p75 - p25
    sigma_median = (ci_high - ci_low) / (2 * _Z)
    return _IQR_PER_SIGMA * sigma_median * math.sqrt(n) / _MEDIAN_SE_PER_SIGMA


@dataclass
class SeriesVector:
    """One series over the window: values at the run positions it has points for."""

    layer: str
    positions: np.ndarray  # indices into Window.runs, increasing
    values: np.ndarray  # median seconds
    spread: np.ndarray  # within_run_spread: from the median's CI, else p75 - p25


@dataclass
class Window:
    machine_id: int
    benchmark_id: int
    runs: list[dict]  # RUN_FIELDS of the window's runs, oldest first
    series: dict[str, SeriesVector] = field(default_factory=dict)

    @property
    def run_ids(self) -> list[int]:
        return [run["id"] for run in self.runs]

    def part(self, start: int, end: int) -> "Window":
        """The window of runs[start:end] and the series' points among them (a history
        loaded once, judged window by window: regressions.detection.detect_history)."""
        part = Window(self.machine_id, self.benchmark_id, self.runs[start:end])
        for name, series in self.series.items():
            keep = (series.positions >= start) & (series.positions < end)
            if keep.any():
                part.series[name] = SeriesVector(name, series.positions[keep] - start, series.values[keep],
                                                 series.spread[keep])
        return part


def load_window(machine_id: int, benchmark_id: int, size: int | None) -> Window:
    """The latest `size` runs (None: all) of the benchmark on the machine and every series
    over them (runs in their series only: a bisection's runs at old commits never enter a window)."""
    runs = Run.objects.in_series().filter(machine_id=machine_id, benchmark_id=benchmark_id)
    newest = runs.order_by("-started_at", "-id").values(*RUN_FIELDS)
    runs = list(newest[:size] if size is not None else newest)[::-1]
    window = Window(machine_id, benchmark_id, runs)
    if not runs:
        return window
    window.series[END_TO_END] = SeriesVector(
        END_TO_END,
        np.arange(len(runs)),
        np.array([run["median"] for run in runs], dtype=float),
        np.array([within_run_spread(run["p25"], run["p75"], run["ci_low"], run["ci_high"], run["n"])
                  for run in runs], dtype=float),
    )
    position = {run["id"]: i for i, run in enumerate(runs)}
    points: dict[str, list[tuple[int, float, float]]] = defaultdict(list)
    rows = LayerMeasurement.objects.of_runs(runs).order_by().values_list(
        "name", "run_id", "median", "p25", "p75", "ci_low", "ci_high", "n")
    for name, run_id, median, p25, p75, ci_low, ci_high, n in rows:
        points[name].append((position[run_id], median, within_run_spread(p25, p75, ci_low, ci_high, n)))
    for name, items in points.items():
        items.sort()
        arr = np.array(items, dtype=float)
        window.series[name] = SeriesVector(name, arr[:, 0].astype(int), arr[:, 1], arr[:, 2])
    return window


def run_observations(runs: list[dict]) -> list[RunObs]:
    """RunObs of the given window runs (their layers read in one query), in the same order."""
    layers: dict[int, list[LayerObs]] = defaultdict(list)
    rows = LayerMeasurement.objects.of_runs(runs).order_by("run_id", "index")
    fields = ("run_id", "name", "op", "flops", "bytes", "median", "p25", "p75", "min", "n", "roof_gflops", "roof_gbs")
    for run_id, name, op, flops, nbytes, median, p25, p75, least, n, roof_gflops, roof_gbs in rows.values_list(*fields):
        layers[run_id].append(LayerObs(name=name, op=op, flops=flops, bytes=nbytes, median=median,
                                       p25=p25, p75=p75, min=least, n=n, roof_gflops=roof_gflops, roof_gbs=roof_gbs))
    return [
        RunObs(
            layers=tuple(layers[run["id"]]),
            end_to_end=run["median"],
            peak_gflops=run["peak_gflops"],
            peak_gbs=run["peak_gbs"],
            **{f"end_to_end_{key}": run[key] for key in ("p25", "p75", "min", "n")},
        )
        for run in runs
    ]
