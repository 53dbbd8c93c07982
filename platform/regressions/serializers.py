"""Alert API shapes: read serializers for alerts and summaries, and the
triage requests (status, notes, reassignment)."""
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from core.access import HidesPrivateFields
from core.known_keys import KnownKeysSerializer
from core.references import ExistingPrimaryKeyField
from fleet.models import Machine
from regressions.models import (
    ALERT_STATUSES,
    BAD_DIRECTIONS,
    MAX_POLICY_REL_CHANGE,
    METRICS,
    MIN_POLICY_WINDOW,
    POLICY_SCOPES,
    REASSIGNED,
    SUMMARY_STATUSES,
    Alert,
    AlertSummary,
    DetectionPolicy,
    TriageEvent,
)
from results.models import Benchmark, Project
from results.strict_fields import (
    StorableSlugRelatedField,
    StrictChoiceField,
    StrictCharField,
    StrictFloatField,
    StrictIntegerField,
)


class AlertSerializer(serializers.ModelSerializer):
    machine = serializers.CharField(source="machine.name")
    benchmark_name = serializers.CharField(source="benchmark.__str__")
    url = serializers.HyperlinkedIdentityField(view_name="alert-detail")
    series = serializers.SerializerMethodField(help_text="URL of the series' points")

    class Meta:
        model = Alert
        fields = [
            "id", "url", "summary", "original_summary", "machine", "benchmark", "benchmark_name", "layer", "metric",
            "kind", "run_before", "run_after", "ramp_start", "ramp_end", "before", "after", "rel_change", "confidence", "direction", "classification",
            "evidence", "policy", "status", "vanished_at", "created", "updated", "series",
        ]

    def get_series(self, alert: Alert) -> str:
        from django.urls import reverse

        return reverse("series-points", args=[alert.machine.name, alert.benchmark_id, alert.layer])


class TriageEventSerializer(HidesPrivateFields, serializers.ModelSerializer):
    private_fields = ("user",)
    user = serializers.CharField(source="user.get_username", default=None, allow_null=True,
                                 help_text="user name; null for anonymous readers")

    class Meta:
        model = TriageEvent
        fields = ["alert", "user", "action", "old", "new", "note", "at"]


class AlertSummarySerializer(HidesPrivateFields, serializers.ModelSerializer):
    private_fields = ("triaged_by",)
    project = serializers.CharField(source="project.name")
    triaged_by = serializers.CharField(source="triaged_by.get_username", default=None, allow_null=True,
                                       help_text="user name of the last triager; null for anonymous readers")
    url = serializers.HyperlinkedIdentityField(view_name="alertsummary-detail")
    alert_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = AlertSummary
        fields = [
            "id", "url", "project", "attribution", "classification", "status", "triaged_by", "triaged_at", "notes",
            "created", "updated", "alert_count",
        ]


class AlertSummaryDetailSerializer(AlertSummarySerializer):
    alerts = AlertSerializer(many=True, read_only=True)
    events = TriageEventSerializer(many=True, read_only=True)

    class Meta(AlertSummarySerializer.Meta):
        fields = [*AlertSummarySerializer.Meta.fields, "alerts", "events"]


class SummaryTriageSerializer(KnownKeysSerializer):
    schema_rules = {"anyOf": [{"required": ["status"]}, {"required": ["notes"]}]}  # validate()
    status = serializers.ChoiceField(SUMMARY_STATUSES, required=False)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=20000)
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000,
                                 help_text="why, kept in the triage history")

    def validate(self, data):
        if "status" not in data and "notes" not in data:
            raise serializers.ValidationError("Give 'status' and/or 'notes'.")
        return data


class AlertTriageSerializer(KnownKeysSerializer):
    schema_rules = {"oneOf": [{"required": ["status"]}, {"required": ["summary"]}],  # validate()
                    "properties": {"status": {"type": "string", "enum": [
                        s for s in ALERT_STATUSES if s != REASSIGNED], "description": "give 'summary' to reassign"}}}
    status = serializers.ChoiceField(ALERT_STATUSES, required=False,
                                     help_text=f"not {REASSIGNED!r}: give 'summary' to reassign")
    summary = ExistingPrimaryKeyField(queryset=AlertSummary.objects.all(), required=False,
                                      help_text="move the alert to this summary (reassign)")
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)

    def validate(self, data):
        if ("status" in data) == ("summary" in data):
            raise serializers.ValidationError("Give exactly one of 'status' and 'summary'.")
        return data


class StrictBooleanField(serializers.BooleanField):
    """true, false or (where allowed) null: no "yes", 1 or "true"."""

    default_error_messages = {"invalid": "Expected true or false, got {input!r}."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class DetectionPolicySerializer(KnownKeysSerializer, serializers.ModelSerializer):
    """A detection policy; every value null (or, for bad_direction, a metric left
    out) inherits from the next scope up: series -> benchmark -> project -> default."""

    schema_rules = {"anyOf": [  # DetectionPolicy.clean: a benchmark, or a project without a series
        {"required": ["benchmark"], "properties": {"benchmark": {"type": "integer"}}},
        {"required": ["project"], "properties": {"project": {"type": "string"},
                                                 "machine": {"type": "string", "nullable": True, "maxLength": 0},
                                                 "layer": {"type": "string", "maxLength": 0}}},
    ]}
    url = serializers.HyperlinkedIdentityField(view_name="detectionpolicy-detail")
    scope = serializers.ChoiceField(POLICY_SCOPES, read_only=True,
                                    help_text="series: a machine and/or a layer of a benchmark")
    project = StorableSlugRelatedField(
        slug_field="name", queryset=Project.objects.all(), required=False, allow_null=True,
        help_text="project name; for a benchmark's or series' policy the benchmark's own (may be left out)")
    benchmark = ExistingPrimaryKeyField(queryset=Benchmark.objects.all(), required=False, allow_null=True)
    machine = StorableSlugRelatedField(slug_field="name", queryset=Machine.objects.all(), required=False,
                                           allow_null=True, help_text="machine name; null: every machine")
    layer = StrictCharField(required=False, allow_blank=True, max_length=200,
                            help_text="layer name (end_to_end for the whole model); empty: every layer")
    min_rel_change = StrictFloatField(required=False, allow_null=True, min_value=0, max_value=MAX_POLICY_REL_CHANGE,
                                      help_text="smallest |relative change| alerted, above 0 (0.05 = 5%)")
    bad_direction = serializers.DictField(
        child=StrictChoiceField(BAD_DIRECTIONS), required=False, allow_empty=True,
        help_text=f"per metric ({', '.join(METRICS)}): up (a higher time is bad), down, or both")
    window = StrictIntegerField(required=False, allow_null=True, min_value=MIN_POLICY_WINDOW,
                                max_value=settings.ROOFWATCH_DETECTION_WINDOW,
                                help_text="runs detection reads (at most ROOFWATCH_DETECTION_WINDOW)")
    muted = StrictBooleanField(required=False, allow_null=True,
                               help_text="detect, but file no alert and send nothing")
    alert_improvements = StrictBooleanField(
        required=False, allow_null=True,
        help_text="improvements wait for triage like regressions; no webhook is sent for them either way")
    updated_by = serializers.CharField(source="updated_by.get_username", default=None, read_only=True,
                                       allow_null=True)

    class Meta:
        model = DetectionPolicy
        fields = [
            "id", "url", "scope", "project", "benchmark", "machine", "layer", "min_rel_change", "bad_direction",
            "window", "muted", "alert_improvements", "updated_by", "created", "updated",
        ]
        validators = []  # the scope rules and uniqueness are DetectionPolicy.clean's, with the field named

    def validate_bad_direction(self, value: dict) -> dict:
        unknown = sorted(set(value) - set(METRICS))
        if unknown:
            raise serializers.ValidationError(f"Unknown metric {unknown[0]!r}; expected one of {', '.join(METRICS)}.")
        return value

    def validate(self, data: dict) -> dict:
        policy = DetectionPolicy(**{f.attname: getattr(self.instance, f.attname) for f in DetectionPolicy._meta.
                                    concrete_fields} if self.instance else {})
        for name, value in data.items():
            if name in ("project", "benchmark", "machine"):
                setattr(policy, f"{name}_id", None if value is None else value.pk)
            else:
                setattr(policy, name, value)
        if self.instance is not None and "benchmark" in data and "project" not in data:
            policy.project_id = None  # moved to another benchmark: take its project
        try:
            policy.clean()
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.message_dict) from None
        data["project"] = policy.project
        return data
