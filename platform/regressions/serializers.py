"""Alert API shapes: read serializers for alerts and summaries, and the
triage requests (status, notes, reassignment)."""
from rest_framework import serializers

from core.access import HidesPrivateFields
from regressions.models import ALERT_STATUSES, REASSIGNED, SUMMARY_STATUSES, Alert, AlertSummary, TriageEvent


class AlertSerializer(serializers.ModelSerializer):
    machine = serializers.CharField(source="machine.name")
    benchmark_name = serializers.CharField(source="benchmark.__str__")
    url = serializers.HyperlinkedIdentityField(view_name="alert-detail")
    series = serializers.SerializerMethodField(help_text="URL of the series' points")

    class Meta:
        model = Alert
        fields = [
            "id", "url", "summary", "original_summary", "machine", "benchmark", "benchmark_name", "layer", "metric",
            "run_before", "run_after", "before", "after", "rel_change", "confidence", "direction", "classification",
            "evidence", "status", "vanished_at", "created", "updated", "series",
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


class SummaryTriageSerializer(serializers.Serializer):
    status = serializers.ChoiceField(SUMMARY_STATUSES, required=False)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=20000)
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000,
                                 help_text="why, kept in the triage history")

    def validate(self, data):
        if "status" not in data and "notes" not in data:
            raise serializers.ValidationError("Give 'status' and/or 'notes'.")
        return data


class AlertTriageSerializer(serializers.Serializer):
    status = serializers.ChoiceField(ALERT_STATUSES, required=False,
                                     help_text=f"not {REASSIGNED!r}: give 'summary' to reassign")
    summary = serializers.PrimaryKeyRelatedField(queryset=AlertSummary.objects.all(), required=False,
                                                 help_text="move the alert to this summary (reassign)")
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)

    def validate(self, data):
        if ("status" in data) == ("summary" in data):
            raise serializers.ValidationError("Give exactly one of 'status' and 'summary'.")
        return data
