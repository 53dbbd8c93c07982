"""Read shapes of stored runs for the API; the time statistics nest as in the report."""
from rest_framework import serializers

from results.models import LayerMeasurement, Run


class TimeStatsOutSerializer(serializers.Serializer):
    median = serializers.FloatField()
    p25 = serializers.FloatField()
    p75 = serializers.FloatField()
    min = serializers.FloatField()
    n = serializers.IntegerField()


class LayerOutSerializer(serializers.ModelSerializer):
    time = TimeStatsOutSerializer(source="*")

    class Meta:
        model = LayerMeasurement
        fields = ["index", "name", "op", "sources", "flops", "bytes", "time", "gflops", "gbs", "ai", "bound"]


class RunSummarySerializer(serializers.ModelSerializer):
    url = serializers.CharField(source="get_absolute_url", read_only=True)
    machine = serializers.CharField(source="machine.name")
    project = serializers.CharField(source="benchmark.project.name")
    model = serializers.CharField(source="benchmark.model")
    params = serializers.JSONField(source="benchmark.params")
    end_to_end = TimeStatsOutSerializer(source="*")

    class Meta:
        model = Run
        fields = [
            "id", "url", "machine", "project", "benchmark", "model", "params", "model_version",
            "commit", "branch", "commit_time", "started_at", "received_at", "end_to_end",
        ]


class RunDetailSerializer(RunSummarySerializer):
    layers = LayerOutSerializer(many=True)

    class Meta(RunSummarySerializer.Meta):
        fields = RunSummarySerializer.Meta.fields + [
            "idempotency_key", "payload_sha256", "ci_url", "config", "config_hash", "warmup", "repeats", "layers",
        ]


class IngestResultSerializer(serializers.Serializer):
    """The answer to an upload: 201 for a new run, 200 for a replay."""

    id = serializers.IntegerField()
    url = serializers.CharField(help_text="the run's dashboard page")
    created = serializers.BooleanField()


class ApiErrorSerializer(serializers.Serializer):
    """Every error answer; `errors` only on validation errors (400)."""

    detail = serializers.CharField()
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text='messages by field path, e.g. "layers[3].time.median"',
    )
