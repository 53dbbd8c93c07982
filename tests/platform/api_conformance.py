"""What the schemathesis run of the API (tests/platform/test_api_schemathesis.py,
benchmarks/api_conformance.py) shares: the callers, the tally of every answer
with schemathesis's check failures, and the repair of generated run and sweep
reports.

A report generated from the schema alone is shaped right but breaks the rules
that tie one value to another, which JSON Schema cannot state (quartiles in
order, one index per layer, work fields null exactly when work_unknown says
why; a sweep's configurations drawn from its grid, each once, measured
exactly when they ran), so nearly every generated upload would be a 400 and
ingestion would never run. `repair_report` and `repair_sweep` make such a
report consistent, as an engine would write it, and leave everything else as
generated."""
from __future__ import annotations

import math
import re
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import count

from django.apps import apps
from django.db import connection

from schemathesis.core.failures import FailureGroup

from engine.report import BACKEND_ENGINE, BOUNDS, END_TO_END
from engine.sweep.report import KNOBS, STATUS_OK
from results.sweep_schema import MEASURED, ROUND_LISTS

STORED_APPS = {"auth", "fleet", "results", "regressions", "notify", "bisection"}  # a refused write adds no row
RUNS = "POST /api/v1/runs/"
SWEEPS = "POST /api/v1/sweeps/"
WORK_DEFAULTS = {"flops": 0, "bytes": 1, "gflops": 0.0, "gbs": 0.0, "ai": 0.0, "bound": BOUNDS[0]}
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_keys = count(1)


@dataclass
class Caller:
    name: str
    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)

    def credit(self, case) -> None:
        """Put the caller's credentials on the case itself, so that the checks
        that send it again with credentials broken or left out (ignored_auth)
        change these, not a copy sent along."""
        case.headers = {**(case.headers or {}), **self.headers}
        case.cookies = {**(case.cookies or {}), **self.cookies}

    def authenticate(self, schema) -> None:
        """Make the caller's credentials the schema's auth (a schemathesis auth
        provider), so that every case generated from it carries them as the
        caller's own: ignored_auth then sends a 2xx case again without them and
        with broken ones, and wants a 401 or 403. (Credentials merely found on
        a case count as generated ones, and any 2xx with them as a failure.)"""
        caller = self

        class Credentials:
            def get(self, case, context):
                return caller if caller.headers or caller.cookies else None

            def set(self, case, data, context):
                data.credit(case)

        schema.auth.auth(refresh_interval=None)(Credentials)


def row_counts() -> tuple[int, ...]:
    """Rows of every table of STORED_APPS, in one query."""
    tables = [model._meta.db_table for model in apps.get_models() if model._meta.app_label in STORED_APPS]
    counts = ", ".join(f"(SELECT COUNT(*) FROM {connection.ops.quote_name(table)})" for table in tables)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {counts}")
        return tuple(cursor.fetchone())


@dataclass
class Tally:
    """Every request sent, what came back, and in full: the failures of
    schemathesis's checks (one example per operation and check), the 5xx
    answers, and the refused writes that stored rows."""

    requests: Counter = field(default_factory=Counter)  # by operation label
    statuses: Counter = field(default_factory=Counter)  # by (operation label, status)
    failures: dict[tuple[str, str], str] = field(default_factory=dict)
    failure_count: int = 0
    server_errors: list[str] = field(default_factory=list)
    partial_writes: list[str] = field(default_factory=list)

    def send(self, case, caller: Caller, rows: bool = False) -> None:
        """Send `case` as `caller`, run every check on the answer, record it."""
        before = row_counts() if rows else None
        response = case.call()
        self.record(case, response, caller, before)

    def record(self, case, response, caller: Caller, rows_before: tuple | None = None) -> None:
        label = case.operation.label
        self.requests[label] += 1
        self.statuses[label, response.status_code] += 1
        if response.status_code >= 500:
            self.server_errors.append(f"{label} -> {response.status_code}\n{case.as_curl_command()}\n"
                                      f"{response.text[:1000]}")
        elif rows_before is not None and 400 <= response.status_code < 500 and row_counts() != rows_before:
            self.partial_writes.append(f"{label} -> {response.status_code} stored rows\n{case.as_curl_command()}")
        try:
            case.validate_response(response, headers=caller.headers)
        except FailureGroup as group:  # one Failure per failed check
            for failure in group.exceptions:
                self.failure_count += 1
                title = getattr(failure, "title", type(failure).__name__)
                self.failures.setdefault((label, title), f"{failure}\n{case.as_curl_command()[:2000]}\n"
                                                         f"-> {response.status_code} {response.text[:500]}")

    def created(self, label: str = RUNS) -> int:
        return self.statuses[label, 201]

    def summary(self) -> str:
        fives = sum(n for (_, status), n in self.statuses.items() if status >= 500)
        return (f"{sum(self.requests.values())} requests over {len(self.requests)} operations; "
                f"{self.failure_count} check failures ({len(self.failures)} distinct), {fives} 5xx, "
                f"{self.created()} x 201 from {RUNS}")

    def problems(self) -> str:
        return "\n\n".join([*self.server_errors[:3], *self.partial_writes[:3],
                            *(f"[{label}] {title}\n{text}" for (label, title), text in list(self.failures.items())[:8])])


def repair_report(report: dict, fingerprint: str) -> dict:
    """A generated report made consistent (see the module docstring), with a
    fresh idempotency key and the uploading machine's fingerprint."""
    report["idempotency_key"] = str(uuid.UUID(int=next(_keys)))
    machine = report.get("machine")
    if isinstance(machine, dict):
        machine["fingerprint"] = fingerprint
        for roof in machine.get("roofs") or []:  # gather GB/s keyed by row size (OpenAPI 3.0 has no propertyNames)
            if isinstance(roof, dict) and isinstance(roof.get("gather_gbs"), dict):
                roof["gather_gbs"] = {str(64 * (i + 1)): v for i, v in enumerate(roof["gather_gbs"].values())}
    _repair_stats(report.get("end_to_end"))
    layers = report.get("layers")
    for i, layer in enumerate(layers if isinstance(layers, list) else []):
        if not isinstance(layer, dict):
            continue
        layer["index"] = i
        if layer.get("name") == END_TO_END or any(
                isinstance(other, dict) and other.get("name") == layer.get("name") for other in layers[:i]):
            layer["name"] = f"layer-{i}"
        _repair_stats(layer.get("time"))
        unknown = layer.get("work_unknown") is not None
        for name, default in WORK_DEFAULTS.items():
            if unknown:
                layer[name] = None
            elif layer.get(name) is None:
                layer[name] = default
    config = report.get("config") if isinstance(report.get("config"), dict) else {}
    benchmark = report.get("benchmark")
    if isinstance(benchmark, dict):
        params = benchmark.get("params") if isinstance(benchmark.get("params"), dict) else {}
        params = {k: v for k, v in _storable(params).items() if k != "backend"}
        if config.get("backend", BACKEND_ENGINE) != BACKEND_ENGINE:
            params["backend"] = config["backend"]
        benchmark["params"] = params
    if isinstance(config.get("flags"), dict):
        config["flags"] = _storable(config["flags"])
    _repair_source(report)
    accuracy = report.get("accuracy")
    if isinstance(accuracy, dict):
        accuracy["agreement"] = None if accuracy.get("metric") == "none" else 0.5
    return report


def _repair_source(report: dict) -> None:
    """A generated ci_url that JSON Schema's pattern took but Python's regex does not: an http(s) URL."""
    source = report.get("source")
    if isinstance(source, dict) and source.get("ci_url"):
        source["ci_url"] = "https://ci.example.org/build/1"


def repair_sweep(report: dict, fingerprint: str) -> dict:
    """A generated sweep report made consistent (see the module docstring),
    with a fresh idempotency key and the uploading machine's fingerprint."""
    report["idempotency_key"] = str(uuid.UUID(int=next(_keys)))
    if isinstance(report.get("machine"), dict):
        report["machine"]["fingerprint"] = fingerprint
    if isinstance(report.get("params"), dict):
        report["params"] = {k: v for k, v in _storable(report["params"]).items() if k != "batch"}
    _repair_source(report)
    if isinstance(report.get("knobs"), dict):  # knob names of 1 to 50 characters (OpenAPI 3.0 has no propertyNames)
        report["knobs"] = {k: v for k, v in report["knobs"].items() if 1 <= len(k) <= 50 and "\x00" not in k}
    grid, results = report.get("grid"), report.get("results")
    if not isinstance(grid, dict) or not isinstance(results, list):
        return report
    seen, kept = set(), []
    for point in results:
        if not isinstance(point, dict):
            kept.append(point)
            continue
        for knob in KNOBS:
            values = grid.get(knob)
            if isinstance(values, list) and values and point.get(knob) not in values:
                point[knob] = values[0]
        configuration = tuple(repr(point.get(knob)) for knob in KNOBS)
        if configuration not in seen:  # the first of each configuration stays
            seen.add(configuration)
            kept.append(point)
            _repair_point(point)
    report["results"] = kept
    return report


def repair_moments(value):
    """`value` with every moment that leaves the years 1 to 9999 once put in
    UTC (0001-01-01T00:30:00+01:00) given the same wall time in UTC: the
    schema's date-time format allows it, and its description refuses it."""
    if isinstance(value, dict):
        return {key: repair_moments(item) for key, item in value.items()}
    if isinstance(value, list):
        return [repair_moments(item) for item in value]
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is not None:
                moment.astimezone(timezone.utc)
        except ValueError:
            return value
        except OverflowError:
            return moment.replace(tzinfo=timezone.utc).isoformat()
    return value


def _repair_point(point: dict) -> None:
    """Measured exactly when it ran: quantiles in order with p50 > 0, at least
    one timed pass, rounds' values (if any) one round's, the medians; else no
    measurements and an error that says why."""
    rounds = any(point.get(name) for name, _ in ROUND_LISTS)
    if point.get("status") != STATUS_OK:
        point.update(dict.fromkeys(MEASURED), **{name: [] for name, _ in ROUND_LISTS})
        point["error"] = point.get("error") or "generated"
        return
    quantiles = sorted(_number(point.get(name), 1.0) for name in MEASURED[:4])
    quantiles[1:] = [max(q, 1e-3) for q in quantiles[1:]]
    point.update(zip(MEASURED[:4], quantiles))
    point["throughput"] = max(_number(point.get("throughput"), 1.0), 1e-9)
    if _number(point.get("span_s"), 0.0) <= 0:
        point["span_s"] = 1.0
    if _number(point.get("timed_passes"), 0) < 1:
        point["timed_passes"] = 1
    point.update({name: [point[median]] if rounds else [] for name, median in ROUND_LISTS})


def _number(value, default: float) -> float:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def _repair_stats(stats) -> None:
    """min <= p25 <= median <= p75, and a confidence interval around the median or none."""
    if not isinstance(stats, dict):
        return
    names = ["min", "p25", "median", "p75"]
    values = [stats.get(name) for name in names]
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        for name, value in zip(names, sorted(values)):
            stats[name] = value
        if stats.get("ci_low") is not None or stats.get("ci_high") is not None:
            stats["ci_low"], stats["ci_high"] = stats["min"], stats["p75"]


def _storable(value, depth: int = 0):
    """A free-form value as jsonb can store it: no NUL or lone surrogates in
    keys or strings, finite numbers, at most a few levels deep."""
    if isinstance(value, str):
        return UNSTORABLE.sub("", value)
    if isinstance(value, float) and not math.isfinite(value):
        return 0.0
    if isinstance(value, dict):
        return {UNSTORABLE.sub("", str(k)): _storable(v, depth + 1) for k, v in value.items()} if depth < 8 else {}
    if isinstance(value, list):
        return [_storable(v, depth + 1) for v in value] if depth < 8 else []
    return value
