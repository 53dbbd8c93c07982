"""The job queue of the fleet: schedules and CI put jobs in, agents claim them
with a lease, renew the lease by heartbeat and complete them once.

Rules:
- A job belongs to one machine; only that machine's agent sees it.
- `claim` is atomic: on PostgreSQL the candidate row is locked with
  SELECT ... FOR UPDATE SKIP LOCKED, so concurrent claims get different jobs;
  SQLite (transaction_mode IMMEDIATE) runs one writer at a time.
- A lease is valid while the job is `claimed` with that lease. Once it has
  expired the job is claimable again (attempts + 1); when it is claimed again
  (or put back in the queue by `release_expired`) the old lease gets LeaseLost
  (409) from then on. An expired lease nobody took yet can still be renewed.
  After `max_attempts` claims an expired job fails.
- A job is finished once: complete on a done/failed/cancelled job is LeaseLost.
- An agent that stops before a job's end gives it back with `release`: the
  job is queued again at once with its lease void. The claim then does not
  count as an attempt (attempts - 1): the agent did not fail the job, it left
  (SIGTERM, or a restart after a crash). Only leases that run out use up
  max_attempts.
- The agent may choose the lease itself (`check_chosen_lease`) and record it
  before it asks, so that an agent killed during the claim request can still
  give the job back at its next start: `release_by_lease` finds the job by the
  lease alone.
- Claim takes the lowest `priority` first, then the oldest: bisect jobs
  (PRIORITY_BISECT) wait behind fresh commit and schedule jobs.
- A commits job runs no benchmark: it completes with `result`, the commits
  of base_commit..commit (fleet.commit_list), or an error.
- `job_finished` (fleet.signals) is sent after the commit of every change that
  finishes a job: complete, an expired lease given up, cancel.

Every function takes `now` so tests can move time; the API passes nothing.
"""
from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from engine.report import UNDER_TEST_ENGINE
from fleet.commit_list import CommitListError, check_commit_list
from fleet.job_spec import check_source, check_spec, spec_sha256
from fleet.models import (
    CANCELLED,
    CLAIMED,
    DONE,
    FAILED,
    KIND_BISECT,
    KIND_COMMIT,
    KIND_COMMITS,
    KIND_SCHEDULE,
    PENDING,
    PRIORITY_BISECT,
    PRIORITY_FRESH,
    QUEUED,
    Job,
    Machine,
    Schedule,
    hash_token,
)
from fleet.signals import job_finished

log = logging.getLogger(__name__)

LEASE_SECONDS_DEFAULT, LEASE_SECONDS_MIN, LEASE_SECONDS_MAX = 900, 30, 3600
LEASE_PREFIX = "rwl_"
LEASE_CHOSEN_MIN_CHARS, LEASE_CHOSEN_MAX_CHARS = 40, 200  # prefix included; 36+ URL-safe chars: 216+ bits
_CHOSEN_LEASE = re.compile(rf"{LEASE_PREFIX}[A-Za-z0-9_-]+")
ERROR_CHARS = 4_000  # the head of an error message is kept
STDERR_TAIL_CHARS = 16_000  # the tail of stderr is kept


class JobRefused(Exception):
    """The request cannot be done; `status_code` is the HTTP answer and `field`
    the body field at fault, if one is."""

    status_code = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


ANSWERS = ("run", "result", "sweep", "error")  # what a completed job answers with: exactly one


def check_one_answer(given: list[str]) -> None:
    """Refuse a completion that gives none or more than one of ANSWERS."""
    if len(given) != 1:
        raise JobRefused("Give one of run (the uploaded run's id), result (a commits job's list), sweep (the "
                         "uploaded sweep's id) or error (why there is none)" + (", not more." if given else "."),
                         field="run" if not given or "run" in given else given[1])


class JobNotFound(JobRefused):
    status_code = 404


class LeaseLost(JobRefused):
    """The lease is not the job's current one, or the job is finished."""

    status_code = 409


@dataclass(frozen=True)
class Claim:
    job: Job
    lease: str  # the secret; only its hash is stored


def enqueue_scheduled(now: datetime | None = None) -> int:
    """One job per enabled machine of the group of every due, enabled schedule,
    except for machines that still have an unfinished job of that schedule.
    Safe to run any number of times and from several workers at once: a
    schedule is due once per interval, and its row is locked while its jobs
    are made. Returns how many jobs were made."""
    now = now or timezone.now()
    due = [s.pk for s in Schedule.objects.filter(enabled=True).only("last_enqueued", "interval_seconds") if s.is_due(now)]
    return sum(_enqueue_schedule(pk, now) for pk in due)


def _enqueue_schedule(pk: int, now: datetime) -> int:
    with transaction.atomic():
        schedule = Schedule.objects.select_for_update().filter(pk=pk, enabled=True).first()
        if schedule is None or not schedule.is_due(now):
            return 0  # disabled or enqueued by another worker meanwhile
        try:
            check_spec(**schedule.spec())
        except ValidationError as exc:
            log.error("schedule %s (%s) makes no jobs: %s", schedule.pk, schedule.name, exc.message_dict)
            return 0
        busy = set(Job.objects.filter(schedule=schedule, status__in=PENDING).values_list("machine_id", flat=True))
        jobs = [
            Job(machine=machine, schedule=schedule, kind=KIND_SCHEDULE, created=now, **schedule.spec())
            for machine in schedule.group.machines.filter(enabled=True).order_by("pk")
            if machine.pk not in busy
        ]
        Job.objects.bulk_create(jobs)
        schedule.last_enqueued = now
        schedule.save(update_fields=["last_enqueued"])
    return len(jobs)


def enqueue_commit(machines: Iterable[Machine], repository: str, commit: str, *, model: str, params=None,
                   config=None, warmup: int = 3, repeats: int = 10, threads: int | None = None,
                   timeout_seconds: int = 600, under_test: str = UNDER_TEST_ENGINE,
                   now: datetime | None = None) -> list[Job]:
    """A job per machine to benchmark `commit` of `repository` (CI), its engine or its
    model under test (`under_test`, the project's: see Job.under_test). A machine
    that already has the same unfinished commit job gets no second one, so a
    redelivered webhook adds nothing; the constraint one_pending_commit_job
    holds that for hooks arriving at once too. Raises ValidationError naming the bad field."""
    spec = {"model": model, "params": {} if params is None else params, "config": {} if config is None else config,
            "warmup": warmup, "repeats": repeats, "threads": threads, "timeout_seconds": timeout_seconds}
    check_spec(**spec)
    commit = check_source(repository, commit)
    now = now or timezone.now()
    same = {"kind": KIND_COMMIT, "repository": repository, "commit": commit, "spec_hash": spec_sha256(spec)}
    made = []
    with transaction.atomic():
        for machine in machines:
            if Job.objects.filter(machine=machine, status__in=PENDING, **same).exists():
                continue
            try:
                with transaction.atomic():  # a savepoint: a concurrent hook may insert this job first
                    made.append(Job.objects.create(machine=machine, created=now, under_test=under_test,
                                                   **same, **spec))
            except IntegrityError:
                continue  # that hook's job is the one
    return made


def enqueue_bisect(machine: Machine, repository: str, commit: str, *, model: str, params, config, warmup: int,
                   repeats: int, threads: int | None, timeout_seconds: int, under_test: str = UNDER_TEST_ENGINE,
                   now: datetime | None = None) -> Job:
    """A bisect job: measure `commit` of `repository` on `machine` with this spec.
    Always a new job (a commit may get more runs); claimed after fresh jobs
    (PRIORITY_BISECT). Raises ValidationError naming the bad field."""
    spec = {"model": model, "params": params, "config": config, "warmup": warmup, "repeats": repeats,
            "threads": threads, "timeout_seconds": timeout_seconds}
    check_spec(**spec)
    if "sweep" in config:  # its run is what a bisection compares; a sweep job completes with a sweep
        raise ValidationError({"config": ["sweep: a bisect job measures one run; a sweep cannot be bisected."]})
    commit = check_source(repository, commit)
    with transaction.atomic():
        return Job.objects.create(machine=machine, kind=KIND_BISECT, priority=PRIORITY_BISECT, repository=repository,
                                  commit=commit, spec_hash=spec_sha256(spec), created=now or timezone.now(),
                                  under_test=under_test, **spec)


def enqueue_commit_list(machine: Machine, repository: str, base: str, head: str,
                        now: datetime | None = None) -> Job:
    """A commits job: `machine`'s agent lists base..head of `repository` (first
    parents, oldest first, base excluded) and completes with that list as
    `result`. No benchmark: its model is "". Raises ValidationError naming the
    bad field (repository, base_commit, commit)."""
    errors: dict[str, list[str]] = {}
    for field, sha in (("base_commit", base), ("commit", head)):
        try:
            check_source(repository, sha)
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                errors.setdefault(field if name == "commit" else name, messages)
    if errors:
        raise ValidationError(errors)
    base, head = check_source(repository, base), check_source(repository, head)
    if base.startswith(head) or head.startswith(base):
        raise ValidationError({"base_commit": [f"The base {base} is the head {head}: the range is empty."]})
    with transaction.atomic():
        return Job.objects.create(machine=machine, kind=KIND_COMMITS, priority=PRIORITY_FRESH, repository=repository,
                                  commit=head, base_commit=base, model="", created=now or timezone.now())


def _send_finished(job_ids: Iterable[int], status: str) -> None:
    """job_finished for each job, once the current transaction commits."""
    for job_id in job_ids:
        transaction.on_commit(lambda job_id=job_id: job_finished.send(sender=Job, job_id=job_id, status=status))


def check_lease_seconds(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not LEASE_SECONDS_MIN <= value <= LEASE_SECONDS_MAX:
        raise JobRefused(f"Expected a whole number from {LEASE_SECONDS_MIN} to {LEASE_SECONDS_MAX}, got {value!r}.",
                         field="lease_seconds")
    return value


def check_chosen_lease(lease: str, machine: Machine) -> str:
    """A lease the agent chose: the prefix, then URL-safe base64 (as
    `secrets.token_urlsafe` makes), long enough not to be guessed, and not the
    lease of another claimed job of this machine (release_by_lease must find one job)."""
    if not (isinstance(lease, str) and LEASE_CHOSEN_MIN_CHARS <= len(lease) <= LEASE_CHOSEN_MAX_CHARS
            and _CHOSEN_LEASE.fullmatch(lease)):
        raise JobRefused(
            f"Expected {LEASE_PREFIX!r} followed by URL-safe base64 characters (A-Z a-z 0-9 _ -), "
            f"{LEASE_CHOSEN_MIN_CHARS} to {LEASE_CHOSEN_MAX_CHARS} characters in all, from a secure random "
            f"source (secrets.token_urlsafe(32)).", field="lease")
    if _claimed_under(machine, lease).exists():
        raise JobRefused("This lease already holds a claimed job of this machine; choose a new lease for each claim.",
                         field="lease")
    return lease


def _claimed_under(machine: Machine, lease: str):
    """The machine's claimed jobs under `lease` (at most one). No index of its
    own: the job_claimable index narrows to the machine's few pending jobs."""
    return Job.objects.filter(machine=machine, status=CLAIMED, lease_hash=hash_token(lease))


def record_agent_status(machine: Machine, status: Mapping[str, Any]) -> None:
    """Keep what the agent reported of its spool and uploads (fleet health)."""
    Machine.objects.filter(pk=machine.pk).update(agent_status={
        key: value.isoformat() if isinstance(value, datetime) else value for key, value in status.items()
    })


def claim(machine: Machine, lease_seconds: int = LEASE_SECONDS_DEFAULT, now: datetime | None = None,
          lease: str | None = None) -> Claim | None:
    """Give `machine` its first claimable job (lowest priority, then oldest) under a
    new lease (`lease`, the agent's choice, else a random one), or None. Claimable: queued, or claimed
    with an expired lease (whose holder then loses it); an expired job that has
    used up its attempts fails instead."""
    check_lease_seconds(lease_seconds)
    now = now or timezone.now()
    with transaction.atomic():
        if lease is not None:
            check_chosen_lease(lease, machine)
        while True:
            job = (
                Job.objects.select_for_update(skip_locked=True)
                .filter(Q(status=QUEUED) | Q(status=CLAIMED, lease_expires__lte=now), machine=machine)
                .order_by("priority", "id")
                .first()
            )
            if job is None:
                return None
            if job.status == CLAIMED and job.attempts >= job.max_attempts:
                _fail_expired(job, now)
                continue
            lease = lease or LEASE_PREFIX + secrets.token_urlsafe(32)
            job.status = CLAIMED
            job.lease_hash = hash_token(lease)
            job.lease_seconds = lease_seconds
            job.lease_expires = now + timedelta(seconds=lease_seconds)
            job.attempts += 1
            job.claimed_at = now
            job.save(update_fields=["status", "lease_hash", "lease_seconds", "lease_expires", "attempts",
                                    "claimed_at"])
            return Claim(job, lease)


def _fail_expired(job: Job, now: datetime) -> None:
    job.status = FAILED
    job.error = f"The lease expired on each of {job.attempts} claims (max_attempts {job.max_attempts}); given up."
    job.lease_hash = ""
    job.finished_at = now
    job.save(update_fields=["status", "error", "lease_hash", "finished_at"])
    _send_finished([job.pk], FAILED)


def _locked_job_with_lease(job_id: int, machine: Machine, lease: str) -> Job:
    """The job, row-locked, if `lease` is its current lease; else JobNotFound or LeaseLost."""
    job = Job.objects.select_for_update().filter(pk=job_id, machine=machine).first()
    if job is None:
        raise JobNotFound(f"No job {job_id} for machine {machine.name!r}.")
    if job.status != CLAIMED:
        raise LeaseLost(f"lease lost: job {job_id} is {job.status}" + (
            f" since {job.finished_at.isoformat()}." if job.finished_at else "; claim it first."
        ))
    if not job.lease_matches(lease):
        raise LeaseLost(
            f"lease lost: job {job_id} was claimed again (claim {job.attempts} of {job.max_attempts}) after the "
            f"lease expired, or the lease is wrong; stop working on it."
        )
    return job


def heartbeat(job_id: int, machine: Machine, lease: str, now: datetime | None = None) -> Job:
    """Extend the lease by the claim's lease_seconds from now."""
    now = now or timezone.now()
    with transaction.atomic():
        job = _locked_job_with_lease(job_id, machine, lease)
        job.lease_expires = now + timedelta(seconds=job.lease_seconds or LEASE_SECONDS_DEFAULT)
        job.save(update_fields=["lease_expires"])
    return job


def release(job_id: int, machine: Machine, lease: str) -> Job:
    """Put a claimed job back in the queue now; its lease stops working and the
    claim is not counted against max_attempts."""
    with transaction.atomic():
        return _requeue(_locked_job_with_lease(job_id, machine, lease))


def release_by_lease(machine: Machine, lease: str) -> Job:
    """`release` for an agent that knows the lease it chose but not the job:
    it was killed during the claim request. JobNotFound when no claimed job of
    `machine` holds `lease` (the claim never reached the server, found no job,
    or the job was released or finished since)."""
    with transaction.atomic():
        job = _claimed_under(machine, lease).select_for_update().first()
        if job is None:
            raise JobNotFound(f"No claimed job of machine {machine.name!r} holds this lease.")
        return _requeue(job)


def _requeue(job: Job) -> Job:
    """Queue a claimed (row-locked) job again: its lease is void, the claim not counted."""
    job.status = QUEUED
    job.lease_hash = ""
    job.lease_expires = None
    job.attempts = max(0, job.attempts - 1)
    job.save(update_fields=["status", "lease_hash", "lease_expires", "attempts"])
    return job


def complete(job_id: int, machine: Machine, lease: str, *, run_id: int | None = None, error: str | None = None,
             stderr_tail: str = "", timed_out: bool = False, result: Any = None, sweep_id: int | None = None,
             now: datetime | None = None) -> Job:
    """Finish a job: `done` with the run it uploaded (a commits job: with its
    `result`, fleet.commit_list; a job whose config has a sweep: with the sweep
    it uploaded), or `failed` with an error. Exactly one of run_id, result,
    sweep_id and error. A job is finished once."""
    answers = {"run": run_id, "result": result, "sweep": sweep_id, "error": error}
    check_one_answer([name for name in ANSWERS if answers[name] is not None])
    now = now or timezone.now()
    with transaction.atomic():
        job = _locked_job_with_lease(job_id, machine, lease)
        if run_id is not None and job.kind == KIND_COMMITS:
            raise JobRefused(f"Job {job_id} is a commits job: it completes with result, not run.", field="run")
        if result is not None:
            result = _checked_result(job, result)
        is_sweep_job = isinstance(job.config, dict) and "sweep" in job.config
        if (run_id is not None and is_sweep_job) or (sweep_id is not None and not is_sweep_job):
            raise JobRefused(f"Job {job_id} " + ("runs a sweep: it completes with sweep, not run." if is_sweep_job
                                                 else "has no sweep in its config: it completes with run."),
                             field="run" if run_id is not None else "sweep")
        if run_id is not None and not _is_run_of(run_id, machine):
            raise JobRefused(f"Run {run_id} is not a run of machine {machine.name!r}; upload the run first.",
                             field="run")
        if sweep_id is not None and not _is_of_machine("Sweep", sweep_id, machine):
            raise JobRefused(f"Sweep {sweep_id} is not a sweep of machine {machine.name!r}; upload the sweep first.",
                             field="sweep")
        job.status = FAILED if error is not None else DONE
        job.run_id = run_id
        job.sweep_id = sweep_id
        job.result = result
        job.error = _head(error or "", ERROR_CHARS)
        job.stderr_tail = stderr_tail[-STDERR_TAIL_CHARS:]
        job.timed_out = timed_out
        job.finished_at = now
        job.lease_hash = ""
        job.save(update_fields=["status", "run_id", "sweep_id", "result", "error", "stderr_tail", "timed_out", "finished_at",
                                "lease_hash"])
        _send_finished([job.pk], job.status)
    return job


def _checked_result(job: Job, result: Any) -> dict:
    if job.kind != KIND_COMMITS:
        raise JobRefused(f"Job {job.pk} is a {job.kind} job: only a commits job completes with result; "
                         f"give run or error.", field="result")
    try:
        return check_commit_list(result, job.base_commit, job.commit)
    except CommitListError as exc:
        raise JobRefused(str(exc), field="result") from None


def _is_run_of(run_id: int, machine: Machine) -> bool:
    return _is_of_machine("Run", run_id, machine)


def _is_of_machine(model_name: str, pk: int, machine: Machine) -> bool:
    # Looked up by name: fleet must not import results (results depends on fleet).
    try:
        model = apps.get_model("results", model_name)
    except LookupError:
        return True  # no results app in this project: nothing to check against
    return model.objects.filter(pk=pk, machine_id=machine.pk).exists()


def _head(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def release_expired(now: datetime | None = None) -> tuple[int, int]:
    """Put claimed jobs whose lease expired back in the queue (their lease is
    void from now on), or fail those that used up their attempts. Claim does
    the same when the machine asks again; this keeps the job list true for
    machines that went away. Returns (requeued, failed)."""
    now = now or timezone.now()
    expired = Job.objects.filter(status=CLAIMED, lease_expires__lte=now)
    with transaction.atomic():
        # locked first, so the ids are those the update fails (job_finished is sent for each)
        given_up = list(expired.filter(attempts__gte=F("max_attempts")).select_for_update(skip_locked=True)
                        .values_list("pk", flat=True))
        failed = Job.objects.filter(pk__in=given_up).update(
            status=FAILED, lease_hash="", finished_at=now,
            error="The lease expired on each of its claims (max_attempts reached); given up.",
        )
        _send_finished(given_up, FAILED)
        requeued = expired.filter(attempts__lt=F("max_attempts")).update(
            status=QUEUED, lease_hash="", lease_expires=None
        )
    return requeued, failed


def cancel(jobs) -> int:
    """Cancel the unfinished jobs among `jobs` (a queryset); their leases stop working."""
    with transaction.atomic():
        ids = list(Job.objects.select_for_update().filter(pk__in=jobs.filter(status__in=PENDING).values("pk"))
                   .values_list("pk", flat=True))
        count = Job.objects.filter(pk__in=ids).update(status=CANCELLED, lease_hash="", finished_at=timezone.now())
        _send_finished(ids, CANCELLED)
    return count
