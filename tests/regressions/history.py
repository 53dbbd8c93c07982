"""Histories of run reports for detection tests: a benchmark measured again and
again on one machine, with seeded noise, one commit per run, and slowdowns
applied to chosen layers from a chosen run on.

    reports = history(18, slow_from=12, slow={"fc1": 3.0})
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np

from fleet.models import Machine
from results.ingest import ingest_report
from results.models import Run
from tests.report_factory import make_report

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
NOISE = 0.01  # relative standard deviation of every time, run to run
TIME_KEYS = ("median", "p25", "p75", "min", "ci_low", "ci_high")  # the times a slowdown scales


def scale_layer(report: dict[str, Any], name: str, factor: float) -> None:
    """Make layer `name` `factor` times slower (FLOPs and bytes unchanged), end-to-end time included."""
    layer = next(layer for layer in report["layers"] if layer["name"] == name)
    added = layer["time"]["median"] * (factor - 1)
    for key in TIME_KEYS:
        if layer["time"].get(key) is not None:
            layer["time"][key] *= factor
    layer["gflops"] /= factor
    layer["gbs"] /= factor
    for key in TIME_KEYS:
        if report["end_to_end"].get(key) is not None:
            report["end_to_end"][key] += added


def history(
    count: int,
    *,
    slow_from: int | None = None,
    slow: Mapping[str, float] | None = None,
    seed: int = 0,
    commit_prefix: str = "c",
    config_after: Mapping[str, Any] | None = None,
    start: datetime = START,
    **report_fields: Any,
) -> list[dict[str, Any]]:
    """`count` reports an hour apart from `start`, run i on commit f"{commit_prefix}{i}"; from
    run `slow_from` on the layers in `slow` are that many times slower and the
    config is merged with `config_after`."""
    rng = np.random.default_rng(seed)
    reports = []
    for i in range(count):
        report = make_report(
            commit=f"{commit_prefix}{i}", started_at=start + timedelta(hours=i),
            time_scale=float(1 + rng.normal(0, NOISE)), **report_fields,
        )
        if slow_from is not None and i >= slow_from:
            for name, factor in (slow or {}).items():
                scale_layer(report, name, factor)
            if config_after:
                report["config"] = {**report["config"], **config_after}
        reports.append(report)
    return reports


def ingest_all(reports: list[dict[str, Any]], machine: Machine) -> list[Run]:
    return [ingest_report(report, machine)[0] for report in reports]
