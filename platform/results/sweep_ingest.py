"""Storing sweep reports (POST /api/v1/sweeps/): validated strictly
(results.sweep_schema), then in one transaction the sweep, one SweepPoint per
configuration, and one run per SLO that some configuration meets: the best
throughput under that p99 SLO as a series detection watches like any other.

A best-under-SLO run belongs to the benchmark of the sweep's model and params
plus `BEST_UNDER_SLO_PARAM` (the SLO in ms), so each SLO is its own series.
Its end-to-end time is seconds per sample, 1 / the best throughput (a series
where lower is better, as every time series): a commit that lowers the best
achievable throughput by 12% raises it by 13.6%, and detection files that as
a regression. Its p25/p75 scale that by the best configuration's latency
quartiles over its median (the within-run spread detection reads), and its
config names the configuration, so attribution says when the best one changed.
"""
from __future__ import annotations

import hashlib
import uuid
from functools import partial
from typing import Any

import msgspec
from django.conf import settings
from django.db import IntegrityError, transaction
from rest_framework.exceptions import ValidationError

from engine.sweep.report import best_under_slo
from fleet.models import Machine
from results.canonical import canonical_sha256
from results.ingest import IdempotencyConflict, _benchmark, _check_fingerprint, benchmark_key
from results.ingest_lookup import lookup
from results.models import Run, Sweep, SweepPoint, normalize_repository
from results.project_scope import ProjectScope
from results.report_errors import parse_leniently, report_errors
from results.report_parser import explained, as_body, moments_in_utc
from results.report_schema import NUL_ESCAPE
from results.signals import send_runs_ingested
from results.sweep_schema import SWEEP_DECODER, SweepReport, sweep_problems

BEST_UNDER_SLO_PARAM = "best_under_slo_p99_ms"
POINT_FIELDS = ("threads", "batch", "instances", "pin", "passes", "quant", "status", "error", "cores", "p25_ms",
                "p50_ms", "p75_ms", "p99_ms", "throughput", "timed_passes", "span_s", "faults_per_pass",
                "throughput_rounds", "p99_ms_rounds")


def decode_sweep(raw: bytes) -> SweepReport:
    """The validated sweep report, or ValidationError naming every bad field
    (ParseError when the body is no JSON)."""
    try:
        report = SWEEP_DECODER.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        raise ValidationError(explained(raw, SweepReport)) from None
    if NUL_ESCAPE in raw and (problems := report_errors(parse_leniently(raw), SweepReport)):
        raise ValidationError(problems)
    if problems := sweep_problems(report):
        raise ValidationError(problems)
    moments_in_utc(report)
    return report


def slos_of(configured: list[float], own: float | None) -> list[float]:
    """The SLOs whose best becomes a series: the configured ones and an autotune's own."""
    return sorted({*configured, *([own] if own is not None else [])})


def ingest_sweep(data: bytes | Any, machine: Machine) -> tuple[Sweep, bool]:
    """Store a sweep report uploaded with `machine`'s token; (sweep, True) when
    new, (stored sweep, False) for a replay. Raises ValidationError (400),
    MachineMismatch and ProjectNotAllowed (403), IdempotencyConflict (409);
    nothing is written then."""
    body = as_body(data)
    report = decode_sweep(body)
    sha = hashlib.sha256(msgspec.json.encode(report)).hexdigest()
    try:
        return _store(machine, report, sha)
    except IntegrityError:  # another upload stored this key after we looked: the second pass sees it
        return _store(machine, report, sha)


def _store(machine: Machine, report: SweepReport, sha: str) -> tuple[Sweep, bool]:
    url = normalize_repository(report.source.repository)
    with transaction.atomic():
        locked = Machine.objects.select_for_update().get(pk=machine.pk)
        adopted = not locked.fingerprint
        _check_fingerprint(locked, report.machine.fingerprint)
        scope = ProjectScope(locked, {url}, known=lookup(locked.pk, {url}, (), ()).projects)
        scope.check(url)
        stored = Sweep.objects.filter(idempotency_key=report.idempotency_key).first()
        if stored is not None:
            if stored.payload_sha256 != sha:
                raise IdempotencyConflict(f"idempotency_key {report.idempotency_key} is already used by sweep "
                                          f"{stored.pk} with a different payload; a new report needs a new key.")
            return stored, False
        if adopted:
            locked.save(update_fields=["fingerprint"])
        benchmark = _benchmark(benchmark_key(url, report.model, report.params), report.params, {})
        source = report.source
        sweep = Sweep.objects.create(
            idempotency_key=report.idempotency_key, payload_sha256=sha, machine=locked, benchmark=benchmark,
            mode=report.mode, slo_p99_ms=report.slo_p99_ms, commit=source.commit, branch=source.branch,
            started_at=report.started_at, warmup=report.warmup, repeats=report.repeats,
            grid=msgspec.to_builtins(report.grid), knobs=msgspec.to_builtins(report.knobs),
            budget_s=report.budget_s, load_before=report.load_before, load_after=report.load_after,
            rounds=report.rounds)
        points = SweepPoint.objects.bulk_create([
            SweepPoint(sweep=sweep, index=i, **{f: getattr(p, f) for f in POINT_FIELDS})
            for i, p in enumerate(report.results)])
        runs = _best_runs(report, sweep, points, sha, url)
        Run.objects.bulk_create(runs)
        scope.grant_created()
        transaction.on_commit(partial(send_runs_ingested, runs))
    return sweep, True


def best_points(points: list[SweepPoint], slo_list: list[float]) -> dict[float, SweepPoint]:
    """{SLO: the point of highest throughput with p99 within it}, SLOs no point meets left out."""
    measured = [p for p in points if p.status == "ok"]
    xy = [(p.throughput, p.p99_ms) for p in measured]
    found = {slo: best_under_slo(xy, slo) for slo in slo_list}
    return {slo: measured[i] for slo, i in found.items() if i is not None}


def _best_runs(report: SweepReport, sweep: Sweep, points: list[SweepPoint], sha: str, url: str) -> list[Run]:
    runs, benchmarks = [], {}
    source = report.source
    for slo, point in best_points(points, slos_of(settings.ROOFWATCH_SLOS_P99_MS, report.slo_p99_ms)).items():
        per_sample = 1.0 / point.throughput
        low, high = per_sample * point.p25_ms / point.p50_ms, per_sample * point.p75_ms / point.p50_ms
        params = {**report.params, BEST_UNDER_SLO_PARAM: slo}
        config = {"sweep": point.knobs(), "slo_p99_ms": slo}
        runs.append(Run(
            idempotency_key=uuid.uuid5(report.idempotency_key, f"best-under-slo:{slo!r}"), payload_sha256=sha,
            machine=sweep.machine,
            benchmark=_benchmark(benchmark_key(url, report.model, params), params, benchmarks),
            model_version="", config=config, config_hash=canonical_sha256(config), commit=source.commit,
            branch=source.branch, commit_time=source.commit_time, ci_url=source.ci_url or "",
            under_test=source.under_test or "", engine_version=source.engine_version or "",  # UNSET when absent
            started_at=report.started_at, warmup=report.warmup, repeats=report.repeats,
            median=per_sample, p25=min(low, per_sample), p75=max(high, per_sample), min=min(low, per_sample),
            n=point.timed_passes))
    return runs
