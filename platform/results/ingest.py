"""Storing run reports: validation, the uploading machine, project, benchmark,
run and layer rows, in one transaction.

`ingest_report(body, machine)` stores one report (POST /api/v1/runs/);
`ingest_reports(bodies, machine)` several (POST /api/v1/runs/batch), each
answered on its own. The API views only pass the body's bytes (each report's,
for a batch) and the token's machine; reports are decoded and validated by
msgspec in one pass (results.report_parser).

The write path is counted in database round trips, since each costs a context
switch on a busy server: one lookup (projects, benchmarks, stored keys and, on
PostgreSQL, the new runs' ids: results.ingest_lookup), COPY the runs, COPY the
layers, commit (elsewhere the runs and layers are INSERTed). The machine row is
locked and updated only when an upload changes it (its fingerprint, its
hardware, a last_seen older than LAST_SEEN_EVERY).
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property, partial
from typing import Any

import msgspec

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from rest_framework.exceptions import ParseError, ValidationError

from core.errors import Refused
from engine.report import STAT_KEYS
from fleet.models import Machine
from results.bulk_copy import copy_new
from results.canonical import canonical_sha256
from results.ingest_lookup import Lookup, lookup
from results.layer_rows import write_runs_layers
from results.models import Benchmark, Project, Run, normalize_repository
from results.project_scope import ProjectNotAllowed, ProjectScope
from results.report_parser import as_body, decode_report
from results.report_schema import Report
from results.signals import send_runs_ingested

HARDWARE_FIELDS = (
    "hostname", "cpu_model", "cores", "memory_bytes", "os", "python", "numpy", "blas", "peak_gflops", "peak_gbs",
)
# An upload marks its machine seen only when the mark is this old: writing the
# machine row on every report costs a lock and an UPDATE (fleet health calls a
# machine stale after a day without one).
LAST_SEEN_EVERY = timedelta(minutes=1)


class IngestRefused(Refused):
    """A valid report that cannot be stored; `status_code` is the HTTP answer."""


class MachineMismatch(IngestRefused, PermissionDenied):
    """The report's machine fingerprint is not the token machine's."""

    status_code = 403


class IdempotencyConflict(IngestRefused):
    """The idempotency key was already stored with a different payload."""

    status_code = 409


@dataclass
class Outcome:
    """The answer to one report: a run (new when `created`), or the error that
    kept it out (a rest_framework ValidationError or an IngestRefused)."""

    run: Run | None = None
    created: bool = False
    error: Exception | None = None


@dataclass
class _Valid:
    position: int  # in the upload
    report: Report
    body: bytes

    @property
    def payload_sha256(self) -> str:
        """The hash of the decoded report (defaults filled, one spelling per
        value), so the same report in other whitespace or key order is a replay."""
        return hashlib.sha256(msgspec.json.encode(self.report)).hexdigest()

    def legacy_sha256(self) -> str:
        """The hash runs stored before msgspec carry: canonical JSON of the body as sent."""
        return canonical_sha256(msgspec.json.decode(self.body))

    @cached_property
    def benchmark_key(self) -> tuple[str, str, str]:
        benchmark = self.report.benchmark
        return benchmark_key(normalize_repository(self.report.source.repository), benchmark.model, benchmark.params)


def ingest_report(data: bytes | Any, machine: Machine) -> tuple[Run, bool]:
    """Validate and store a run report uploaded with `machine`'s token: the
    body's bytes, or the report as Python values (results.report_parser.as_body).

    Returns (run, True) for a new run, (stored run, False) for a replay of a
    stored report. Raises rest_framework ValidationError for an invalid report,
    MachineMismatch and ProjectNotAllowed (403) and IdempotencyConflict (409); nothing
    is written then.
    """
    body = as_body(data)
    (outcome,) = _store(machine, [_Valid(0, decode_report(body), body)])
    if outcome.error is not None:
        raise outcome.error
    return outcome.run, outcome.created


def ingest_reports(items: Sequence[bytes | Any], machine: Machine) -> list[Outcome]:
    """Validate and store several reports uploaded with `machine`'s token; one
    Outcome per item, in order.

    Each item is validated and checked on its own, exactly as ingest_report
    would, and a refused item is not stored; the others are stored together in
    one transaction (a database failure stores none of them). Within one
    upload, a repeated idempotency_key is a replay of its first item (or a
    conflict, with another payload)."""
    outcomes: list[Outcome | None] = [None] * len(items)
    valid = []
    for position, data in enumerate(items):
        body = as_body(data)
        try:
            valid.append(_Valid(position, decode_report(body), body))
        except (ValidationError, ParseError) as exc:
            outcomes[position] = Outcome(error=exc)
    for item, outcome in zip(valid, _store(machine, valid) if valid else []):
        outcomes[item.position] = outcome
    return outcomes


def _store(machine: Machine, items: list[_Valid]) -> list[Outcome]:
    try:
        return _store_once(machine, items)
    except IntegrityError:
        # Another upload stored one of these keys (under another machine's lock)
        # after we looked: everything rolled back; the second pass sees it stored.
        return _store_once(machine, items)


def _store_once(machine: Machine, items: list[_Valid]) -> list[Outcome]:
    outcomes = [Outcome() for _ in items]
    with transaction.atomic():
        newest = max(item.report.started_at for item in items)
        # The machine row is locked (and written) only when the upload changes it;
        # else the token's machine, read by the authentication, is current enough.
        quiet = _nothing_to_record(machine, [item.report for item in items])
        locked = machine if quiet else (
            Machine.objects.select_for_update()
            .annotate(has_newer_run=Exists(Run.objects.filter(machine=OuterRef("pk"), started_at__gt=newest)))
            .get(pk=machine.pk)
        )
        known_fingerprint, ours = locked.fingerprint, []
        urls = {item.benchmark_key[0] for item in items}
        found = lookup(locked.pk, urls, {item.benchmark_key for item in items},
                       {item.report.idempotency_key for item in items}, new_runs=len(items))
        scope = ProjectScope(locked, urls, known=found.projects)
        for item, outcome in zip(items, outcomes):
            try:
                _check_fingerprint(locked, item.report.machine.fingerprint)
                scope.check(item.benchmark_key[0])
            except (MachineMismatch, ProjectNotAllowed) as exc:
                outcome.error = exc
            else:
                ours.append((item, outcome))
        if not ours:
            return outcomes
        if not quiet:
            if len(ours) < len(items):  # the newest report may have been another machine's
                newest = max(item.report.started_at for item, _ in ours)
                locked.has_newer_run = Run.objects.filter(machine=locked, started_at__gt=newest).exists()
            try:
                _record_machine(locked, [item.report for item, _ in ours], adopted=not known_fingerprint)
            except MachineMismatch as exc:
                for _, outcome in ours:
                    outcome.error = exc
                return outcomes
        stored = _stored_runs(found.runs)
        new = []
        for item, outcome in ours:
            key = item.report.idempotency_key
            if key in stored:
                _answer_replay(outcome, stored[key], item)
            else:
                stored[key] = _new_run(item.report, locked, item.payload_sha256)
                new.append((item, outcome, stored[key]))
        if new:
            _insert(new, found)
            scope.grant_created()
        elif not any(outcome.run for _, outcome in ours):
            transaction.set_rollback(True)  # every report refused: the machine is not marked seen either
    return outcomes


def _check_fingerprint(locked: Machine, fingerprint: str) -> None:
    """The report must come from the token's machine; a machine without a
    fingerprint adopts its first report's (saved by _record_machine)."""
    if locked.fingerprint == fingerprint:
        return
    owner = Machine.objects.filter(fingerprint=fingerprint).exclude(pk=locked.pk).first()
    if owner is not None:
        raise MachineMismatch(
            f"machine.fingerprint {fingerprint!r} belongs to machine {owner.name!r}, but the token is machine "
            f"{locked.name!r}'s; upload with {owner.name!r}'s token."
        )
    if locked.fingerprint:
        raise MachineMismatch(
            f"machine.fingerprint {fingerprint!r} does not match machine {locked.name!r}, whose fingerprint is "
            f"{locked.fingerprint!r}; is this token copied from another machine?"
        )
    locked.fingerprint = fingerprint


def _nothing_to_record(machine: Machine, reports: list[Report]) -> bool:
    """Whether storing these reports leaves the machine row as it is: its
    fingerprint is theirs, it was seen within LAST_SEEN_EVERY, and every report
    carries the hardware it has (so none is newer hardware, whichever is newest)."""
    if not machine.fingerprint or machine.last_seen is None or machine.first_seen is None:
        return False
    if timezone.now() - machine.last_seen >= LAST_SEEN_EVERY:
        return False
    hardware = [getattr(machine, field) for field in HARDWARE_FIELDS]
    return all(
        report.machine.fingerprint == machine.fingerprint
        and [getattr(report.machine, field) for field in HARDWARE_FIELDS] == hardware
        for report in reports
    )


def _record_machine(locked: Machine, reports: list[Report], adopted: bool) -> None:
    """Mark the machine seen and refresh its hardware from the newest report
    (`locked.has_newer_run`: a run newer than all of them is stored)."""
    now = timezone.now()
    locked.first_seen = locked.first_seen or now
    locked.last_seen = now
    # A spooled report uploaded late must not roll the hardware back.
    if not locked.has_newer_run:
        newest = max(reports, key=lambda report: report.started_at)
        for field in HARDWARE_FIELDS:
            setattr(locked, field, getattr(newest.machine, field))
    fields = ["fingerprint", "first_seen", "last_seen", *HARDWARE_FIELDS]
    if not adopted:
        locked.save(update_fields=fields)  # the fingerprint is unchanged: no unique check can fail
        return
    try:
        with transaction.atomic():
            locked.save(update_fields=fields)
    except IntegrityError:
        # Another machine adopted this fingerprint since the check.
        raise MachineMismatch(
            f"machine.fingerprint {locked.fingerprint!r} was just claimed by another machine; "
            f"the token is machine {locked.name!r}'s."
        ) from None


def _stored_runs(ids: dict) -> dict:
    """{idempotency_key: run} of the runs found stored under the upload's keys
    ({key: run id}; a query only for a replay)."""
    return {run.idempotency_key: run for run in Run.objects.filter(pk__in=ids.values())} if ids else {}


def _create_runs(runs: list[Run], ids: list[int]) -> None:
    """The new runs in one write (a COPY on PostgreSQL, taking the ids the lookup drew); each gets its id."""
    copy_new(runs, ids)


def _answer_replay(outcome: Outcome, stored: Run, item: _Valid) -> None:
    if stored.payload_sha256 not in (item.payload_sha256, item.legacy_sha256()):
        outcome.error = IdempotencyConflict(
            f"idempotency_key {stored.idempotency_key} is already used by run {stored.pk} with a different "
            "payload; a new report needs a new key."
        )
    else:
        outcome.run = stored


def _insert(new: list[tuple[_Valid, Outcome, Run]], found: Lookup) -> None:
    """Insert new runs and their layers (`found`: the lookup's benchmarks that
    exist, by benchmark_key, and run ids drawn); run_ingested goes out for each after commit."""
    benchmarks: dict[tuple, Benchmark] = {}
    for item, _, run in new:
        key = item.benchmark_key
        run.benchmark_id = found.benchmarks[key] if key in found.benchmarks else (
            _benchmark(key, item.report.benchmark.params, benchmarks).pk
        )
    _create_runs([run for _, _, run in new], found.new_run_ids)
    write_runs_layers([(run, item.report.layers) for item, _, run in new])
    for _, outcome, run in new:
        outcome.run, outcome.created = run, True
    transaction.on_commit(partial(send_runs_ingested, [run for _, _, run in new]))


def benchmark_key(url: str, model: str, params: dict) -> tuple[str, str, str]:
    """(repository url (normalized), model, params hash): a benchmark of the default environment."""
    return url, model, canonical_sha256(params)


def _benchmark(key: tuple[str, str, str], params: dict, known: dict[tuple, Benchmark]) -> Benchmark:
    """The benchmark of `key` (benchmark_key): one query when it exists (the usual case)."""
    if key not in known:
        url, model, params_hash = key
        found = Benchmark.objects.filter(
            project__repository_url=url, model=model, params_hash=params_hash, environment=""
        ).first()
        if found is None:
            found, _ = Benchmark.objects.get_or_create(
                project=Project.for_repository(url), model=model, params_hash=params_hash, environment="",
                defaults={"params": params},
            )
        known[key] = found
    return known[key]


def _new_run(report: Report, machine: Machine, payload_sha256: str) -> Run:
    """An unsaved run (its benchmark is set by _insert)."""
    source, e2e, config = report.source, report.end_to_end, msgspec.to_builtins(report.config)
    return Run(
        idempotency_key=report.idempotency_key,
        payload_sha256=payload_sha256,
        machine=machine,
        model_version=report.benchmark.model_version,
        config=config,
        config_hash=canonical_sha256(config),
        commit=source.commit,
        branch=source.branch,
        commit_time=source.commit_time,
        ci_url=source.ci_url or "",
        started_at=report.started_at,
        warmup=report.warmup,
        repeats=report.repeats,
        **{key: getattr(e2e, key) for key in STAT_KEYS},
        ci_low=e2e.ci_low,
        ci_high=e2e.ci_high,
        peak_gflops=report.machine.peak_gflops,
        peak_gbs=report.machine.peak_gbs,
        roofs=msgspec.to_builtins(report.machine.roofs) or None,  # older reports have none: null, like the other new fields
        timed_page_faults=report.timed_page_faults,
        profiler_overhead=report.profiler_overhead,
        conditions=msgspec.to_builtins(report.conditions),
        accuracy=msgspec.to_builtins(report.accuracy),
        purpose=report.purpose,
        under_test=source.under_test or "",  # UNSET when absent
        engine_version=source.engine_version or "",
    )
