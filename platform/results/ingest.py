"""Storing one run report: validation, the uploading machine, project,
benchmark, run and layer rows, all in one transaction.

`ingest_report(data, machine)` is the one entry point; the API view only
passes the parsed body and the token's machine.
"""
from __future__ import annotations

import re
from functools import partial

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from fleet.models import Machine
from results.canonical import canonical_sha256
from results.layer_rows import write_layer_rows
from results.models import Benchmark, Project, Run
from results.serializers import validate_report
from results.signals import send_run_ingested

LOCAL_PROJECT = "local"  # name and repository_url of runs reported without a repository
HARDWARE_FIELDS = (
    "hostname", "cpu_model", "cores", "memory_bytes", "os", "python", "numpy", "blas", "peak_gflops", "peak_gbs",
)


class IngestRefused(Exception):
    """A valid report that cannot be stored; `status_code` is the HTTP answer."""

    status_code = 400


class MachineMismatch(IngestRefused, PermissionDenied):
    """The report's machine fingerprint is not the token machine's."""

    status_code = 403


class IdempotencyConflict(IngestRefused):
    """The idempotency key was already stored with a different payload."""

    status_code = 409


def ingest_report(data: dict, machine: Machine) -> tuple[Run, bool]:
    """Validate and store a run report uploaded with `machine`'s token.

    Returns (run, True) for a new run, (stored run, False) for a replay of a
    stored report. Raises rest_framework ValidationError for an invalid report,
    MachineMismatch (403) and IdempotencyConflict (409); nothing is written then.
    """
    report = validate_report(data)
    payload_sha256 = canonical_sha256(data)
    with transaction.atomic():
        machine = _record_machine(machine, report["machine"], report["started_at"])
        stored = _stored_run(report["idempotency_key"])
        if stored is not None:
            return _replayed(stored, payload_sha256), False
        benchmark = _benchmark(_project(report["source"]["repository"]), report["benchmark"])
        try:
            with transaction.atomic():  # a savepoint: a concurrent upload of this key may win the insert
                run = _create_run(report, machine, benchmark, payload_sha256)
        except IntegrityError:
            stored = _stored_run(report["idempotency_key"])
            if stored is None:
                raise
            return _replayed(stored, payload_sha256), False
        write_layer_rows(run, report["layers"])
        transaction.on_commit(partial(send_run_ingested, run.pk))
    return run, True


def _stored_run(idempotency_key) -> Run | None:
    return Run.objects.filter(idempotency_key=idempotency_key).first()


def _replayed(stored: Run, payload_sha256: str) -> Run:
    if stored.payload_sha256 != payload_sha256:
        raise IdempotencyConflict(
            f"idempotency_key {stored.idempotency_key} is already used by run {stored.pk} with a different "
            "payload; a new report needs a new key."
        )
    return stored


def _record_machine(machine: Machine, reported: dict, started_at) -> Machine:
    """Check the report comes from the token's machine, adopt its fingerprint on
    first contact, and refresh its hardware from the newest report."""
    locked = Machine.objects.select_for_update().get(pk=machine.pk)
    fingerprint = reported["fingerprint"]
    if locked.fingerprint != fingerprint:
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
    now = timezone.now()
    locked.first_seen = locked.first_seen or now
    locked.last_seen = now
    # A spooled report uploaded late must not roll the hardware back.
    if not Run.objects.filter(machine=locked, started_at__gt=started_at).exists():
        for field in HARDWARE_FIELDS:
            setattr(locked, field, reported[field])
    try:
        with transaction.atomic():
            locked.save(update_fields=["fingerprint", "first_seen", "last_seen", *HARDWARE_FIELDS])
    except IntegrityError:
        # Another machine adopted this fingerprint since the check above.
        raise MachineMismatch(
            f"machine.fingerprint {fingerprint!r} was just claimed by another machine; "
            f"the token is machine {locked.name!r}'s."
        ) from None
    return locked


def normalize_repository(repository: str) -> str:
    """One spelling per repository: no surrounding space, trailing slash or '.git'."""
    url = repository.strip().rstrip("/")
    return url.removesuffix(".git") or LOCAL_PROJECT


def project_name(repository_url: str) -> str:
    """A short name from a repository URL or path: its last two path segments."""
    path = re.sub(r"^[a-z][a-z0-9+.-]*://[^/]*", "", repository_url)  # scheme://host
    path = re.sub(r"^[^/:@]+@[^:]+:", "", path)  # git@host:
    segments = [s for s in path.split("/") if s]
    return "/".join(segments[-2:]) or repository_url


def _project(repository: str) -> Project:
    url = normalize_repository(repository)
    project = Project.objects.filter(repository_url=url).first()
    if project is not None:
        return project
    name = project_name(url)[:200]
    if Project.objects.filter(name=name).exists():  # same name, other host or path
        name = f"{name[:180]} ({canonical_sha256(url)[:8]})"
    project, _ = Project.objects.get_or_create(repository_url=url, defaults={"name": name})
    return project


def _benchmark(project: Project, reported: dict) -> Benchmark:
    params = reported["params"]
    benchmark, _ = Benchmark.objects.get_or_create(
        project=project, model=reported["model"], params_hash=canonical_sha256(params), defaults={"params": params}
    )
    return benchmark


def _create_run(report: dict, machine: Machine, benchmark: Benchmark, payload_sha256: str) -> Run:
    source, e2e = report["source"], report["end_to_end"]
    return Run.objects.create(
        idempotency_key=report["idempotency_key"],
        payload_sha256=payload_sha256,
        machine=machine,
        benchmark=benchmark,
        model_version=report["benchmark"]["model_version"],
        config=report["config"],
        config_hash=canonical_sha256(report["config"]),
        commit=source["commit"],
        branch=source["branch"],
        commit_time=source["commit_time"],
        ci_url=source["ci_url"] or "",
        started_at=report["started_at"],
        warmup=report["warmup"],
        repeats=report["repeats"],
        median=e2e["median"],
        p25=e2e["p25"],
        p75=e2e["p75"],
        min=e2e["min"],
        n=e2e["n"],
        peak_gflops=report["machine"]["peak_gflops"],
        peak_gbs=report["machine"]["peak_gbs"],
        profiler_overhead=report["profiler_overhead"],
    )
