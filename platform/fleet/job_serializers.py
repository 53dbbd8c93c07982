"""API shapes of jobs: the agent's request bodies (claim, heartbeat, complete, release)
and the job as the agent and people read it. Lease hashes never leave the database."""
from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from core.access import HidesPrivateFields
from core.known_keys import KnownKeysSerializer
from core.text import storable_text
from fleet.commit_list import MAX_COMMIT_LIST, TEXT_MAX_CHARS
from fleet.jobs import (
    ANSWERS,
    LEASE_CHOSEN_MAX_CHARS,
    LEASE_CHOSEN_MIN_CHARS,
    LEASE_PREFIX,
    LEASE_SECONDS_DEFAULT,
    LEASE_SECONDS_MAX,
    LEASE_SECONDS_MIN,
    JobRefused,
    check_one_answer,
)
from fleet.models import Job

BIGINT_MAX = 2**63 - 1


class ProcessTextField(serializers.CharField):
    """Text a process wrote (an error, stderr): NUL and lone surrogates, which
    PostgreSQL cannot store, become U+FFFD instead of refusing the report."""

    def __init__(self, **kwargs) -> None:
        super().__init__(trim_whitespace=False, allow_blank=True, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return storable_text(data)


class AgentStatusSerializer(KnownKeysSerializer):
    """How the agent is doing, sent with each claim; shown as fleet health."""

    pending = serializers.IntegerField(min_value=0, help_text="reports in the spool not yet acknowledged")
    rejected = serializers.IntegerField(min_value=0, help_text="reports the server refused, kept in rejected/")
    last_upload = serializers.DateTimeField(allow_null=True, required=False, default=None)
    last_error = ProcessTextField(allow_null=True, required=False, default=None, max_length=1000)
    last_error_at = serializers.DateTimeField(allow_null=True, required=False, default=None)


@extend_schema_serializer(component_name="Claim")  # "ClaimRequest" as a request body
class ClaimRequestSerializer(KnownKeysSerializer):
    schema_rules = {"properties": {"lease": {
        "type": "string", "minLength": LEASE_CHOSEN_MIN_CHARS, "maxLength": LEASE_CHOSEN_MAX_CHARS, "pattern": (
        f"^{LEASE_PREFIX}[A-Za-z0-9_-]{{{LEASE_CHOSEN_MIN_CHARS - len(LEASE_PREFIX)},"
        f"{LEASE_CHOSEN_MAX_CHARS - len(LEASE_PREFIX)}}}$")}}}
    agent = AgentStatusSerializer(required=False, help_text="the agent's spool and upload state")
    lease_seconds = serializers.IntegerField(
        min_value=LEASE_SECONDS_MIN, max_value=LEASE_SECONDS_MAX, required=False, default=LEASE_SECONDS_DEFAULT,
        help_text="how long the lease lasts without a heartbeat; each heartbeat extends it by as much",
    )
    lease = serializers.CharField(
        required=False, trim_whitespace=False, max_length=LEASE_CHOSEN_MAX_CHARS,
        help_text=(f"the lease to claim under, chosen by the agent: {LEASE_PREFIX!r} then at least "
                   f"{LEASE_CHOSEN_MIN_CHARS - len(LEASE_PREFIX)} URL-safe base64 characters from a secure random "
                   f"source, a new one each claim. Recorded before the request, it lets an agent killed during "
                   f"the claim give the job back (POST /api/v1/jobs/release). Without it the server chooses."),
    )


class LeaseSerializer(KnownKeysSerializer):
    lease = serializers.CharField(max_length=200, help_text="the lease the claim returned")


class CommitEntrySerializer(serializers.Serializer):
    sha = serializers.RegexField(r"^([0-9a-f]{40}|[0-9a-f]{64})$", help_text="the full commit id, lower case")
    subject = serializers.CharField(max_length=TEXT_MAX_CHARS, allow_blank=True, help_text="first line of the message")
    author = serializers.CharField(max_length=TEXT_MAX_CHARS, allow_blank=True)
    time = serializers.CharField(help_text="the committer time, ISO 8601 (git's %cI)")


class CommitListSerializer(serializers.Serializer):
    """A commits job's answer (fleet.commit_list, which checks it)."""

    commits = CommitEntrySerializer(many=True, max_length=MAX_COMMIT_LIST, help_text=(
        "base_commit..commit in first-parent order, oldest first: the base excluded, the last entry the head"))


@extend_schema_field(CommitListSerializer)
class CommitListField(serializers.JSONField):
    """Any JSON here: fleet.jobs.complete checks it against the job (naming `result`)."""


@extend_schema_serializer(component_name="Complete")  # "CompleteRequest" as a request body
class CompleteRequestSerializer(LeaseSerializer):
    schema_rules = {"oneOf": [  # validate(): exactly one of ANSWERS; timed_out only with error
        {"required": [given], "not": {"anyOf": [{"required": [other]} for other in ANSWERS if other != given]},
         **({} if given == "error" else {"properties": {"timed_out": {"enum": [False]}}})}
        for given in ANSWERS
    ]}
    run = serializers.IntegerField(
        min_value=1, max_value=BIGINT_MAX, required=False,
        help_text="id of the run the job produced, as POST /api/v1/runs/ returned it (a run of this machine)",
    )
    result = CommitListField(required=False, help_text="a commits job's answer; the job becomes `done`")
    sweep = serializers.IntegerField(
        min_value=1, max_value=BIGINT_MAX, required=False,
        help_text="of a job whose config has a sweep: the sweep's id as POST /api/v1/sweeps/ returned it",
    )
    error = ProcessTextField(required=False, help_text="why there is no run; the job becomes `failed`")
    stderr_tail = ProcessTextField(required=False, default="", help_text="the end of the benchmark's stderr")
    timed_out = serializers.BooleanField(required=False, default=False, help_text="the benchmark ran out of time")

    def validate(self, attrs: dict) -> dict:
        try:
            check_one_answer([name for name in ANSWERS if name in attrs])
        except JobRefused as refused:
            raise ValidationError({refused.field: [str(refused)]}) from None
        if "error" not in attrs and attrs["timed_out"]:
            raise ValidationError({"timed_out": ["Only with error: a job that produced a run did not time out."]})
        return attrs


class JobBenchmarkSerializer(serializers.Serializer):
    model = serializers.CharField()
    params = serializers.DictField(help_text="size params: batch size, sequence length, ...")


class SweepSectionOutSerializer(serializers.Serializer):
    """A config's sweep section (engine.sweep.spec): absent lists are the engine's defaults."""

    threads = serializers.ListField(child=serializers.IntegerField(), required=False)
    batch = serializers.ListField(child=serializers.IntegerField(), required=False)
    instances = serializers.ListField(child=serializers.IntegerField(), required=False)
    pin = serializers.ListField(child=serializers.CharField(), required=False)
    passes = serializers.ListField(child=serializers.CharField(), required=False)
    quant = serializers.ListField(child=serializers.CharField(), required=False)
    slo_p99_ms = serializers.FloatField(required=False, help_text="autotune under this p99 latency")
    max_evaluations = serializers.IntegerField(required=False)
    budget_s = serializers.FloatField(help_text="the sweep stops measuring after this many seconds")
    rounds = serializers.IntegerField(required=False, help_text="measurements of each configuration, the report "
                                                                "giving their medians (the engine's default 3)")


class EngineConfigOutSerializer(serializers.Serializer):
    passes = serializers.ListField(child=serializers.CharField())
    quant = serializers.CharField()
    flags = serializers.DictField()
    inject = serializers.ListField(child=serializers.CharField(), help_text="fault injection; empty in real runs")
    target_ci = serializers.FloatField(required=False, help_text="repeat until the 95% CI is within this percent")
    budget_s = serializers.FloatField(required=False, help_text="at most this many seconds of target_ci's repeats")
    sweep = SweepSectionOutSerializer(required=False, help_text="run `sweep` over this grid instead of `run`")


class JobSpecOutSerializer(serializers.ModelSerializer):
    """What the agent runs: the fields of the claim answer besides the lease."""

    benchmark = serializers.SerializerMethodField()
    config = EngineConfigOutSerializer(source="full_config")

    class Meta:
        model = Job
        fields = ["id", "kind", "priority", "benchmark", "config", "warmup", "repeats", "threads",
                  "timeout_seconds", "repository", "base_commit", "commit", "under_test"]

    @extend_schema_field(JobBenchmarkSerializer)
    def get_benchmark(self, job: Job) -> dict:
        return {"model": job.model, "params": job.params}


class ClaimResponseSerializer(JobSpecOutSerializer):
    lease = serializers.SerializerMethodField(help_text="secret of this claim: send it with heartbeat and complete")
    lease_expires = serializers.DateTimeField()

    def get_lease(self, job: Job) -> str:
        return self.context["lease"]  # the secret is not stored, so it comes with the claim

    class Meta(JobSpecOutSerializer.Meta):
        fields = ["id", "lease", "lease_expires", *JobSpecOutSerializer.Meta.fields[1:]]


class HeartbeatResponseSerializer(serializers.Serializer):
    lease_expires = serializers.DateTimeField()


class JobOutSerializer(HidesPrivateFields, JobSpecOutSerializer):
    """A job as people (and the agent after complete) read it; what the process
    wrote is for signed-in users and machines only (core.access)."""

    private_fields = ("error", "stderr_tail")
    url = serializers.SerializerMethodField()
    machine = serializers.CharField(source="machine.name")
    schedule = serializers.CharField(source="schedule.name", allow_null=True, default=None)
    run = serializers.IntegerField(source="run_id", allow_null=True, help_text="id of the run it produced")
    sweep = serializers.IntegerField(source="sweep_id", allow_null=True,
                                     help_text="id of the sweep it produced (a job whose config has a sweep)")
    sweep_url = serializers.SerializerMethodField(help_text="the page of the sweep it produced (its Pareto chart)")
    error = serializers.CharField(allow_null=True, help_text="why it failed; null for anonymous readers")
    stderr_tail = serializers.CharField(allow_null=True, help_text="the end of the benchmark's stderr; null for "
                                                                    "anonymous readers")

    class Meta(JobSpecOutSerializer.Meta):
        fields = [
            "id", "url", "machine", "schedule", *JobSpecOutSerializer.Meta.fields[1:], "status", "attempts",
            "max_attempts", "created", "claimed_at", "lease_expires", "finished_at", "run", "sweep", "sweep_url", "error",
            "stderr_tail", "timed_out",
        ]

    def get_url(self, job: Job) -> str:
        return reverse("job-detail", args=[job.pk])

    def get_sweep_url(self, job: Job) -> str | None:
        return None if job.sweep_id is None else reverse("dashboard:sweep-page", args=[job.sweep_id])
