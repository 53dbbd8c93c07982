"""The series page's data: one benchmark layer (or end_to_end) on every
machine that ran it, decimated on the server, with the change points of its
alerts (a drift alert's ramp too) and the configs its points ran with.

Points come from results.series.series_points, the same reader as
/api/v1/series/<machine>/<benchmark>/<layer>/, so the page and the API agree:
before the raw window a layer's points are daily rollups (run null), and
`resolution` (the same for every machine) says where the raw window starts.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework.exceptions import NotFound, ValidationError

from regressions.models import Alert
from core.query import parse_int
from results.models import Benchmark, Run, Series
from results.series import MAX_ID, MAX_POINTS, PointsQuery, series_points

from .decimate import lttb_indices

DEFAULT_MAX_POINTS = 1500  # per machine; a laptop screen is narrower than this
OVERLAY_ENVIRONMENTS = "environments"  # ?overlay=: draw the benchmark in each of its environments
MAX_CONFIGS = 50


def page_series(params: Mapping[str, str]) -> dict[str, Any]:
    """?benchmark=<id>&layer=<name>&metric=&since=&until=&max_points=&machine=<name>&overlay=environments

    One line per machine; with overlay=environments, one per machine and
    environment of the benchmark (Benchmark.in_every_environment), named
    "<machine> · <environment>"."""
    if not params.get("benchmark"):
        raise ValidationError({"benchmark": ["Required: a benchmark id."]})
    benchmark_id = parse_int("benchmark", params["benchmark"], 1, MAX_ID)
    layer = params.get("layer") or "end_to_end"
    max_points = parse_int("max_points", params["max_points"], 3, MAX_POINTS) if params.get("max_points") else (
        DEFAULT_MAX_POINTS)
    # A QueryDict's last value of each key; a page's empty field means "not given".
    flat = {key: value for key in params if (value := params.get(key)) != ""}
    query = PointsQuery.from_params({**flat, "limit": flat.get("limit") or str(MAX_POINTS)})
    benchmark = Benchmark.objects.filter(pk=benchmark_id).first()
    if benchmark is None:
        raise NotFound(f"No benchmark with id {benchmark_id}.")
    overlay = params.get("overlay") == OVERLAY_ENVIRONMENTS
    benchmarks = list(benchmark.in_every_environment()) if overlay else [benchmark]
    environment = {b.pk: b.environment for b in benchmarks}
    lines = list(
        Series.objects.filter(benchmark_id__in=environment, layer=layer).order_by("machine__name", "benchmark_id")
        .values_list("machine__name", "benchmark_id")
    )
    if params.get("machine"):
        lines = [line for line in lines if line[0] == params["machine"]]
    if not lines:
        raise NotFound(f"No series of layer {layer!r} in benchmark {benchmark_id} ({benchmark}).")
    machines, meta, hashes = [], None, set()
    for name, line_benchmark in lines:
        data = series_points(name, line_benchmark, layer, query)
        if line_benchmark == benchmark_id or meta is None:
            meta = data["series"]
        points = data["points"]
        keep = lttb_indices(range(len(points)), [p["value"] for p in points], max_points)
        kept = [points[i] for i in keep]
        hashes.update(p["config_hash"] for p in kept if p["config_hash"] is not None)  # a daily point has none
        machines.append({"name": _line_name(name, environment[line_benchmark], overlay), "total": len(points),
                         "decimated": len(kept) < len(points), "points": kept})
    meta = {key: value for key, value in meta.items() if key != "machine"}
    return {"series": meta, "resolution": data["resolution"], "machines": machines,
            "changes": changes(environment, layer, query.metric, overlay),
            "configs": configs(list(environment), hashes)}


def _line_name(machine: str, environment: str, overlay: bool) -> str:
    return f"{machine} · {environment or 'no environment'}" if overlay else machine


def changes(environment: dict[int, str], layer: str, metric: str, overlay: bool = False) -> list[dict[str, Any]]:
    """The change points alerts were filed for on this layer, on any machine, of
    the benchmarks `environment` maps to their environment (lines named as the page's)."""
    alerts = (
        Alert.objects.filter(benchmark_id__in=environment, layer=layer, metric=metric)
        .select_related("machine", "run_after", "summary", "ramp_start", "ramp_end").order_by("run_after__started_at")
    )
    return [
        {
            "alert": a.pk, "summary": a.summary_id, "url": f"/alerts/{a.summary_id}/",
            "machine": _line_name(a.machine.name, environment[a.benchmark_id], overlay),
            "kind": a.kind, "run": a.run_after_id, "t": _iso(a.run_after), "commit": a.run_after.commit,
            "rel_change": a.rel_change, "direction": a.direction, "classification": a.classification,
            "status": a.summary.status, "vanished": a.vanished_at is not None,
            # a drift's ramp, shaded on the chart: its first and last run
            "ramp": None if a.ramp_start is None or a.ramp_end is None else {
                "start": {"run": a.ramp_start_id, "t": _iso(a.ramp_start), "commit": a.ramp_start.commit},
                "end": {"run": a.ramp_end_id, "t": _iso(a.ramp_end), "commit": a.ramp_end.commit},
            },
        }
        for a in alerts
    ]


def _iso(run: Run) -> str:
    return run.started_at.isoformat().replace("+00:00", "Z")


def configs(benchmark_ids: list[int], hashes: set[str]) -> dict[str, Any]:
    """config_hash -> config, one run each, for the (few) configs shown."""
    found = {}
    for config_hash in sorted(hashes)[:MAX_CONFIGS]:
        found[config_hash] = (
            Run.objects.filter(benchmark_id__in=benchmark_ids, config_hash=config_hash)
            .values_list("config", flat=True).first()
        )
    return found
