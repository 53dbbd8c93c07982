"""Machines of the fleet, the tokens their agents write with, and the jobs
they run: groups of machines, benchmark schedules per group, and jobs claimed
with a lease (the rules of claiming are in fleet.jobs)."""
import hashlib
import secrets
from datetime import timedelta

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from engine.report import UNDER_TEST_ENGINE, UNDER_TEST_MODEL
from fleet.job_spec import LIMITS, MODEL_MAX_LENGTH, REPOSITORY_MAX_LENGTH, check_spec, full_config

TOKEN_PREFIX = "rw_"
REENROLL_WINDOW = timedelta(hours=24)


def hash_token(token: str) -> str:
    """Tokens are random 256-bit strings, so a plain SHA-256 is a safe lookup key."""
    return hashlib.sha256(token.encode()).hexdigest()


class Machine(models.Model):
    """One fleet machine. Created by name with `agent_token`; its hardware fields
    are filled from the first run report its agent uploads."""

    name = models.CharField(max_length=200, unique=True)
    # Stable id the engine derives from the hardware; empty until the first report.
    fingerprint = models.CharField(max_length=64, blank=True, default="")
    hostname = models.CharField(max_length=255, blank=True, default="")
    cpu_model = models.CharField(max_length=255, blank=True, default="")
    cores = models.PositiveIntegerField(null=True, blank=True)
    memory_bytes = models.BigIntegerField(null=True, blank=True)
    os = models.CharField(max_length=255, blank=True, default="")
    python = models.CharField(max_length=64, blank=True, default="")
    numpy = models.CharField(max_length=64, blank=True, default="")
    blas = models.CharField(max_length=255, blank=True, default="")
    peak_gflops = models.FloatField(null=True, blank=True)
    peak_gbs = models.FloatField(null=True, blank=True)
    token_hash = models.CharField(max_length=64, blank=True, default="", db_index=True)  # serves token auth
    token_created = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    first_seen = models.DateTimeField(null=True, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    # What the agent last said of itself when it asked for a job: spool depth,
    # rejected reports, last upload, last error (fleet.job_serializers.AgentStatusSerializer).
    agent_status = models.JSONField(null=True, blank=True)
    # Project scope (checked by results.project_scope; the projects themselves are results.Project.machines):
    may_create_projects = models.BooleanField(
        default=False, help_text="its first run of a repository no project has yet creates that project for it"
    )
    all_projects = models.BooleanField(
        default=False, help_text="may post runs to every project and create new ones (a fleet one team owns)"
    )
    # An operator's one-time approval to re-register this machine with only an enrollment token (fleet.enrollment).
    reenroll_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            # Two machine records may not claim one physical machine.
            models.UniqueConstraint(
                fields=["fingerprint"], condition=~models.Q(fingerprint=""), name="unique_nonempty_fingerprint"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def with_token(cls, token: str) -> "Machine | None":
        """The machine whose agent token this is (enabled or not), or None."""
        return cls.objects.filter(token_hash=hash_token(token)).first()

    def rotate_token(self) -> str:
        """Give the machine a new token, invalidating the old one; returns the
        token, which is shown once and never stored."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self.token_hash = hash_token(token)
        self.token_created = timezone.now()
        self.save(update_fields=["token_hash", "token_created"])
        return token

    def allow_reenrollment(self, now=None) -> None:
        """Let the next registration of this machine with an enrollment token
        rotate its token without the current one, once, for REENROLL_WINDOW."""
        self.reenroll_until = (now or timezone.now()) + REENROLL_WINDOW
        self.save(update_fields=["reenroll_until"])

    def revoke_token(self) -> None:
        self.token_hash = ""
        self.save(update_fields=["token_hash"])

    @property
    def ridge_point(self) -> float | None:
        """FLOPs per byte where the compute roof meets the bandwidth slope."""
        if self.peak_gflops and self.peak_gbs:
            return self.peak_gflops / self.peak_gbs
        return None


ENROLL_TOKEN_PREFIX = "rwe_"


class EnrollmentToken(models.Model):
    """A shared secret that lets new agents register themselves
    (`POST /api/v1/agents/register`) instead of an operator running
    `agent_token` per machine. Issued with `manage.py enroll_token`; only its
    SHA-256 is stored."""

    token_hash = models.CharField(max_length=64, unique=True)  # unique: serves the lookup by hash
    label = models.CharField(max_length=200, blank=True, default="")
    created = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)  # null: never expires
    max_uses = models.PositiveIntegerField(null=True, blank=True)  # null: unlimited
    uses = models.PositiveIntegerField(default=0)
    revoked = models.BooleanField(default=False)
    last_used = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"enrollment token {self.pk} {self.label!r}" if self.label else f"enrollment token {self.pk}"

    @classmethod
    def issue(cls, label: str = "", max_uses: int | None = None, expires_at=None) -> tuple["EnrollmentToken", str]:
        """Create a token; returns it with its secret, which is shown once and never stored."""
        secret = ENROLL_TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(token_hash=hash_token(secret), label=label, max_uses=max_uses, expires_at=expires_at)
        return token, secret

    def refusal(self, now=None) -> str | None:
        """Why this token cannot enroll a machine now, or None if it can."""
        now = now or timezone.now()
        if self.revoked:
            return f"Enrollment token {self.pk} is revoked."
        if self.expires_at is not None and self.expires_at <= now:
            return f"Enrollment token {self.pk} expired at {self.expires_at.isoformat()}."
        if self.max_uses is not None and self.uses >= self.max_uses:
            return f"Enrollment token {self.pk} is used up ({self.uses} of {self.max_uses} uses)."
        return None

    def record_use(self) -> None:
        self.uses += 1
        self.last_used = timezone.now()
        self.save(update_fields=["uses", "last_used"])


class MachineGroup(models.Model):
    """Machines that run the same schedules (e.g. one rack, one CPU generation)."""

    name = models.CharField(max_length=200, unique=True)
    machines = models.ManyToManyField(Machine, related_name="groups", blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def _limits(name: str) -> list:
    low, high = LIMITS[name]
    return [MinValueValidator(low), MaxValueValidator(high)]


class BenchmarkSpecFields(models.Model):
    """What to run and how to measure it; shared by schedules and jobs.
    The project is not named here: results depends on fleet, not the reverse,
    so the run report the agent uploads says which project the run belongs to."""

    model = models.CharField(max_length=MODEL_MAX_LENGTH)
    params = models.JSONField(default=dict, blank=True)  # size params: batch size, sequence length, ...
    config = models.JSONField(default=dict, blank=True)  # passes, quant, flags, inject (fleet.job_spec)
    warmup = models.PositiveIntegerField(default=3, validators=_limits("warmup"))
    repeats = models.PositiveIntegerField(default=10, validators=_limits("repeats"))
    threads = models.PositiveIntegerField(null=True, blank=True, validators=_limits("threads"))  # null: engine default
    timeout_seconds = models.PositiveIntegerField(default=600, validators=_limits("timeout_seconds"))

    class Meta:
        abstract = True

    def clean(self) -> None:
        super().clean()
        check_spec(model=self.model, params=self.params, config=self.config, warmup=self.warmup,
                   repeats=self.repeats, threads=self.threads, timeout_seconds=self.timeout_seconds)

    def spec(self) -> dict:
        """The spec as keyword arguments of another spec holder."""
        return {name: getattr(self, name) for name in
                ("model", "params", "config", "warmup", "repeats", "threads", "timeout_seconds")}


class Schedule(BenchmarkSpecFields):
    """A benchmark every machine of a group runs every `interval_seconds`.
    fleet.jobs.enqueue_scheduled turns due schedules into one job per machine."""

    name = models.CharField(max_length=200, unique=True)
    group = models.ForeignKey(MachineGroup, on_delete=models.PROTECT, related_name="schedules")
    interval_seconds = models.PositiveIntegerField(
        default=24 * 3600, validators=[MinValueValidator(60), MaxValueValidator(365 * 24 * 3600)]
    )
    enabled = models.BooleanField(default=True)
    last_enqueued = models.DateTimeField(null=True, blank=True)  # null: due now

    class Meta:
        ordering = ["name"]
        indexes = [
            # enqueue_scheduled: the enabled schedules, the never-enqueued first.
            models.Index(fields=["last_enqueued"], condition=models.Q(enabled=True), name="schedule_enabled_due"),
        ]

    def __str__(self) -> str:
        return self.name

    def is_due(self, now) -> bool:
        return self.last_enqueued is None or (now - self.last_enqueued).total_seconds() >= self.interval_seconds


QUEUED, CLAIMED, DONE, FAILED, CANCELLED = "queued", "claimed", "done", "failed", "cancelled"
JOB_STATUSES = [(s, s) for s in (QUEUED, CLAIMED, DONE, FAILED, CANCELLED)]
PENDING = (QUEUED, CLAIMED)  # not finished: at most one per (schedule, machine)
KIND_SCHEDULE, KIND_COMMIT = "schedule", "commit"
KIND_BISECT = "bisect"  # a benchmark at one commit of a bisection's range (run purpose "bisect")
KIND_COMMITS = "commits"  # no benchmark: the agent lists base_commit..commit and completes with `result`
JOB_KINDS = [(kind, kind) for kind in (KIND_SCHEDULE, KIND_COMMIT, KIND_BISECT, KIND_COMMITS)]
PRIORITY_FRESH, PRIORITY_BISECT = 0, 10  # claim takes the lowest priority first: bisect jobs wait behind fresh ones


class Job(BenchmarkSpecFields):
    """One benchmark for one machine. The machine's agent claims it with a lease
    (a random secret of which only the SHA-256 is stored), renews the lease by
    heartbeat and completes it with the id of the run it uploaded (of a sweep job: the
sweep's), or an error.
    A lease that expires makes the job claimable again, up to max_attempts claims."""

    machine = models.ForeignKey(Machine, on_delete=models.CASCADE, related_name="jobs", db_index=False)
    schedule = models.ForeignKey(Schedule, on_delete=models.SET_NULL, null=True, blank=True, related_name="jobs")
    kind = models.CharField(max_length=16, choices=JOB_KINDS)
    # A commit job runs the engine of this commit of this repository; empty for scheduled jobs.
    repository = models.CharField(max_length=REPOSITORY_MAX_LENGTH, blank=True, default="")
    commit = models.CharField(max_length=64, blank=True, default="")
    # Of a commit or bisect job: what the commit changes, from its project (results.Project.under_test):
    # "engine", the commit's own engine runs the benchmark; "model", the agent's engine runs the ONNX
    # file as it is at the commit. The report records it (engine.report.UNDER_TEST).
    under_test = models.CharField(max_length=16, choices=[(u, u) for u in (UNDER_TEST_ENGINE, UNDER_TEST_MODEL)],
                                  default=UNDER_TEST_ENGINE)
    # Of a commits job: the range listed is base_commit..commit (base excluded).
    base_commit = models.CharField(max_length=64, blank=True, default="")
    priority = models.PositiveSmallIntegerField(default=PRIORITY_FRESH)  # lower is claimed first
    # Of a commits job: {"commits": [{sha, subject, author, time}, ...]} (fleet.jobs.check_commit_list).
    result = models.JSONField(null=True, blank=True)
    # Of a commit job: fleet.job_spec.spec_sha256 of its spec, so one_pending_commit_job can compare specs.
    spec_hash = models.CharField(max_length=64, blank=True, default="")
    status = models.CharField(max_length=16, choices=JOB_STATUSES, default=QUEUED)
    lease_hash = models.CharField(max_length=64, blank=True, default="")  # sha256 of the current lease; "" if none
    lease_seconds = models.PositiveIntegerField(null=True, blank=True)  # of the current claim
    lease_expires = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)  # claims so far
    max_attempts = models.PositiveIntegerField(default=3, validators=[MinValueValidator(1)])
    created = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The results.Run the job produced. A plain id: fleet must not import results.
    run_id = models.BigIntegerField(null=True, blank=True)
    # The results.Sweep a job whose config has a sweep section (fleet.job_spec) produced, likewise a plain id.
    sweep_id = models.BigIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    stderr_tail = models.TextField(blank=True, default="")
    timed_out = models.BooleanField(default=False)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The job list of one machine (?machine=), newest first; also the machine foreign key.
            models.Index(fields=["machine", "-id"], name="job_machine_newest"),
            # claim: a machine's queued and claimed jobs, by priority then oldest first (a small partial index).
            models.Index(fields=["machine", "priority", "id"], condition=models.Q(status__in=PENDING),
                         name="job_claimable"),
            # release_expired: claimed jobs by lease expiry.
            models.Index(fields=["lease_expires"], condition=models.Q(status=CLAIMED), name="job_lease_expiry"),
            # The job list by status (?status=) across machines, newest first.
            models.Index(fields=["status", "-id"], name="job_status_newest"),
        ]
        constraints = [
            # Never two unfinished jobs of one schedule for one machine (enqueue_scheduled's rule,
            # held by the database too); also serves its "has a pending job?" lookup.
            models.UniqueConstraint(
                fields=["schedule", "machine"], condition=models.Q(status__in=PENDING),
                name="one_pending_job_per_schedule",
            ),
            # Never two unfinished commit jobs of one spec for one commit on one machine, even when
            # two hooks for that commit arrive at once (fleet.jobs.enqueue_commit).
            models.UniqueConstraint(
                fields=["machine", "repository", "commit", "spec_hash"],
                condition=models.Q(kind=KIND_COMMIT, status__in=PENDING),
                name="one_pending_commit_job",
            ),
        ]

    def __str__(self) -> str:
        return f"job {self.pk} {self.model} on {self.machine} ({self.status})"

    def clean_fields(self, exclude=None) -> None:
        if self.kind == KIND_COMMITS:  # no benchmark: its model is ""
            exclude = {*(exclude or ()), "model"}
        super().clean_fields(exclude)

    def clean(self) -> None:
        if self.kind == KIND_COMMITS:  # no spec to check: it only lists commits
            return
        super().clean()

    @property
    def full_config(self) -> dict:
        return full_config(self.config)

    def lease_matches(self, lease: str) -> bool:
        return bool(self.lease_hash) and secrets.compare_digest(self.lease_hash, hash_token(lease))
