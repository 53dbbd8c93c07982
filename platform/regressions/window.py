"""The data detection reads: the latest runs of one benchmark on one machine,
with each series (end-to-end and one per layer) as a vector over those runs,
and the roofline observations classification needs. Two queries for the
series, one more per classified change."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from engine.report import END_TO_END
from regressions.classify import LayerObs, RunObs
from results.models import LayerMeasurement, Run

RUN_FIELDS = ("id", "started_at", "median", "p25", "p75", "min", "n", "peak_gflops", "peak_gbs")


@dataclass
class SeriesVector:
    """One series over the window: values at the run positions it has points for."""

    layer: str
    positions: np.ndarray  # indices into Window.runs, increasing
    values: np.ndarray  # median seconds
    spread: np.ndarray  # p75 - p25


@dataclass
class Window:
    machine_id: int
    benchmark_id: int
    runs: list[dict]  # RUN_FIELDS of the window's runs, oldest first
    series: dict[str, SeriesVector] = field(default_factory=dict)

    @property
    def run_ids(self) -> list[int]:
        return [run["id"] for run in self.runs]


def load_window(machine_id: int, benchmark_id: int, size: int) -> Window:
    """The latest `size` runs of the benchmark on the machine and every series over them."""
    newest = Run.objects.filter(machine_id=machine_id, benchmark_id=benchmark_id).order_by("-started_at", "-id")
    runs = list(newest.values(*RUN_FIELDS)[:size])[::-1]
    window = Window(machine_id, benchmark_id, runs)
    if not runs:
        return window
    window.series[END_TO_END] = SeriesVector(
        END_TO_END,
        np.arange(len(runs)),
        np.array([run["median"] for run in runs], dtype=float),
        np.array([run["p75"] - run["p25"] for run in runs], dtype=float),
    )
    position = {run["id"]: i for i, run in enumerate(runs)}
    points: dict[str, list[tuple[int, float, float]]] = defaultdict(list)
    rows = LayerMeasurement.objects.filter(run_id__in=position).order_by().values_list("name", "run_id", "median", "p25", "p75")
    for name, run_id, median, p25, p75 in rows:
        points[name].append((position[run_id], median, p75 - p25))
    for name, items in points.items():
        items.sort()
        arr = np.array(items, dtype=float)
        window.series[name] = SeriesVector(name, arr[:, 0].astype(int), arr[:, 1], arr[:, 2])
    return window


def run_observations(runs: list[dict]) -> list[RunObs]:
    """RunObs of the given window runs (their layers read in one query), in the same order."""
    layers: dict[int, list[LayerObs]] = defaultdict(list)
    rows = LayerMeasurement.objects.filter(run_id__in=[run["id"] for run in runs]).order_by("run_id", "index")
    fields = ("run_id", "name", "op", "flops", "bytes", "median", "p25", "p75", "min", "n")
    for run_id, name, op, flops, nbytes, median, p25, p75, least, n in rows.values_list(*fields):
        layers[run_id].append(LayerObs(name=name, op=op, flops=flops, bytes=nbytes, median=median,
                                       p25=p25, p75=p75, min=least, n=n))
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
