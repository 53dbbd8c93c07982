"""Read shapes of the API: runs (time statistics nest as in the report),
projects, benchmarks and series."""
from urllib.parse import quote

from rest_framework import serializers

from results.models import Benchmark, LayerMeasurement, Project, Run
from results.series import METRICS

ENVIRONMENT_HELP = ("the benchmark's software environment, part of its identity: asv's env_name for imported "
                    "asv results (it names the Python); empty for roofwatch's own runs")


class TimeStatsOutSerializer(serializers.Serializer):
    median = serializers.FloatField()
    p25 = serializers.FloatField()
    p75 = serializers.FloatField()
    min = serializers.FloatField()
    n = serializers.IntegerField()
    ci_low = serializers.FloatField(allow_null=True, help_text=(
        "95% confidence interval of the median, low end (seconds); null when not measured (older reports)"))
    ci_high = serializers.FloatField(allow_null=True, help_text="95% confidence interval of the median, high end")


class LayerOutSerializer(serializers.ModelSerializer):
    time = TimeStatsOutSerializer(source="*")

    class Meta:
        model = LayerMeasurement
        fields = [
            "index", "name", "op", "sources", "flops", "bytes", "kernel_bytes", "time", "gflops", "gbs", "ai",
            "bound", "threads", "roof", "roof_gflops", "roof_gbs", "work_unknown",
        ]
        extra_kwargs = {
            "kernel_bytes": {"help_text": "what the kernel really moves where more than bytes (the minimum); "
                                          "else null"},
            "threads": {"help_text": "threads the layer's kernel really runs on; null in older reports"},
            "roof": {"help_text": "the bandwidth roof that judges the layer (stream or gather); null in older "
                                  "reports, which are judged against the run's peaks"},
            "roof_gflops": {"help_text": "the compute roof that judges the layer; null: the run's peaks.gflops"},
            "roof_gbs": {"help_text": "the bandwidth roof that judges the layer; null: the run's peaks.gbs"},
            "work_unknown": {"help_text": "why the layer's work is not known (then flops, bytes, gflops, gbs, ai "
                                          "and bound are null); null when it is"},
        }


class RunSummarySerializer(serializers.ModelSerializer):
    url = serializers.CharField(source="get_absolute_url", read_only=True)
    machine = serializers.CharField(source="machine.name")
    project = serializers.CharField(source="benchmark.project.name")
    model = serializers.CharField(source="benchmark.model")
    params = serializers.JSONField(source="benchmark.params")
    environment = serializers.CharField(source="benchmark.environment", help_text=ENVIRONMENT_HELP)
    end_to_end = TimeStatsOutSerializer(source="*")

    class Meta:
        model = Run
        fields = [
            "id", "url", "machine", "project", "benchmark", "model", "params", "environment", "model_version",
            "commit", "branch", "commit_time", "started_at", "received_at", "end_to_end", "purpose",
            "under_test", "engine_version",
        ]
        extra_kwargs = {"purpose": {"help_text": (
            '"" an ordinary run; "bisect" a run a bisection made at an old commit, in no series')}}


class PeaksOutSerializer(serializers.Serializer):
    """The roofline a run was measured against: its machine's peaks as the
    engine's probes measured them for this run (a later re-measure of the
    machine does not change them)."""

    gflops = serializers.FloatField(source="peak_gflops", allow_null=True,
                                    help_text="peak GFLOP/s; null when not measured (runs imported from asv)")
    gbs = serializers.FloatField(source="peak_gbs", allow_null=True,
                                 help_text="peak memory bandwidth in GB/s; null when not measured")
    ridge_point = serializers.FloatField(allow_null=True,
                                         help_text="FLOPs per byte where the roofs meet (gflops / gbs); null without both")


class RoofOutSerializer(serializers.Serializer):
    """The machine's roofs under one thread count, as measured for the run."""

    threads = serializers.IntegerField()
    gflops = serializers.FloatField(help_text="peak GFLOP/s")
    gbs = serializers.FloatField(help_text="streaming-copy GB/s")
    gather_gbs = serializers.DictField(child=serializers.FloatField(),
                                       help_text="random-row gather GB/s by row size in bytes")


class RunDetailSerializer(RunSummarySerializer):
    peaks = PeaksOutSerializer(source="*", help_text=(
        "The run's stream roofs (at its thread count). A layer's % of roof is 100 * gflops / min(G, ai * B) "
        "(100 * gbs / B for a layer without FLOPs), where G, B are the layer's roof_gflops, roof_gbs when it "
        "has them, else peaks.gflops, peaks.gbs."
    ))
    roofs = RoofOutSerializer(many=True, allow_null=True, help_text=(
        "Every measured thread count's roofs, gather by row size included; null for older reports"))
    layers = LayerOutSerializer(many=True)

    class Meta(RunSummarySerializer.Meta):
        fields = RunSummarySerializer.Meta.fields + [
            "idempotency_key", "payload_sha256", "ci_url", "config", "config_hash", "warmup", "repeats",
            "profiler_overhead", "timed_page_faults", "conditions", "accuracy", "peaks", "roofs", "layers",
        ]
        extra_kwargs = {**RunSummarySerializer.Meta.extra_kwargs, "timed_page_faults": {"help_text": (
            "minor page faults during the timed passes (0: steady state); null when not counted")}}


class IngestResultSerializer(serializers.Serializer):
    """The answer to an upload: 201 for a new run, 200 for a replay."""

    id = serializers.IntegerField()
    url = serializers.CharField(help_text="the run's dashboard page")
    created = serializers.BooleanField()


class BatchItemResultSerializer(serializers.Serializer):
    """The answer to one report of a batch: what POST /api/v1/runs/ would have answered."""

    status = serializers.IntegerField(help_text="201 stored, 200 replay of a stored report, or the 4xx refusing it")
    id = serializers.IntegerField(required=False, help_text="the run (201 and 200 only)")
    url = serializers.CharField(required=False, help_text="the run's dashboard page (201 and 200 only)")
    created = serializers.BooleanField(required=False)
    detail = serializers.CharField(required=False, help_text="why it was refused (4xx only)")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False,
        help_text="field path -> messages (400 only)",
    )


class BatchResultSerializer(serializers.Serializer):
    results = BatchItemResultSerializer(many=True, help_text="one per report, in upload order")
    created = serializers.IntegerField(help_text="reports stored as new runs")
    replayed = serializers.IntegerField(help_text="reports already stored (same key and payload)")
    refused = serializers.IntegerField(help_text="reports answered with a 4xx and not stored")


class ProjectOutSerializer(serializers.ModelSerializer):
    class Meta:
        model = Project
        fields = ["id", "name", "repository_url", "default_branch"]


class BenchmarkOutSerializer(serializers.ModelSerializer):
    project = serializers.CharField(source="project.name")
    label = serializers.CharField(source="__str__", read_only=True,
                                  help_text="model(param=value, ...), then [environment] when it has one")

    class Meta:
        model = Benchmark
        fields = ["id", "project", "model", "params", "params_hash", "environment", "label"]
        extra_kwargs = {"environment": {"help_text": ENVIRONMENT_HELP}}


class SeriesSerializer(serializers.Serializer):
    """One series that has points (layer "end_to_end": the whole model)."""

    machine = serializers.CharField()
    benchmark = serializers.IntegerField(help_text="benchmark id")
    model = serializers.CharField()
    environment = serializers.CharField(help_text=ENVIRONMENT_HELP)
    layer = serializers.CharField()
    op = serializers.CharField(help_text='empty for "end_to_end"')
    index = serializers.IntegerField(allow_null=True, help_text='position in the model; null for "end_to_end"')
    points = serializers.IntegerField(help_text="how many runs measured it")
    first = serializers.DateTimeField()
    last = serializers.DateTimeField()
    url = serializers.SerializerMethodField(help_text="its points, metric median")

    def get_url(self, item: dict) -> str:
        return f"/api/v1/series/{quote(item['machine'], safe='')}/{item['benchmark']}/{quote(item['layer'], safe='/')}/"


class SeriesKeySerializer(serializers.Serializer):
    machine = serializers.CharField()
    benchmark = serializers.IntegerField()
    project = serializers.CharField()
    model = serializers.CharField()
    params = serializers.JSONField()
    environment = serializers.CharField(help_text=ENVIRONMENT_HELP)
    layer = serializers.CharField()
    op = serializers.CharField()
    metric = serializers.ChoiceField(choices=list(METRICS))
    unit = serializers.CharField()


class SeriesPointSerializer(serializers.Serializer):
    t = serializers.DateTimeField(help_text="the run's started_at; a daily point: its day's midnight (UTC)")
    run = serializers.IntegerField(allow_null=True, help_text="null for a daily point")
    commit = serializers.CharField(allow_null=True, help_text="null for a daily point")
    model_version = serializers.CharField(allow_null=True, help_text="null for a daily point")
    config_hash = serializers.CharField(allow_null=True, help_text="null for a daily point")
    value = serializers.FloatField(help_text=(
        "a daily point: median the median of the day's run medians, min the least run min; gflops, gbs and ai "
        "derived from that median"))
    p25 = serializers.FloatField(required=False, help_text=(
        "time metrics only; a daily point: the 25th percentile of the day's run medians"))
    p75 = serializers.FloatField(required=False, help_text=(
        "time metrics only; a daily point: the 75th percentile of the day's run medians"))
    runs = serializers.IntegerField(required=False, help_text="daily points only: how many runs the day summarises")


class SeriesSpanSerializer(serializers.Serializer):
    source = serializers.ChoiceField(choices=["daily", "raw"], help_text=(
        "daily: one point a day from the daily rollups (before the raw window: retention deleted the layer rows); "
        "raw: one point per run"))
    # "from" is a Python keyword, so it goes in through the class namespace.
    locals()["from"] = serializers.DateTimeField(allow_null=True, help_text="start of the span (inclusive); null: open")
    to = serializers.DateTimeField(allow_null=True, help_text="end of the span (exclusive); null: open")


class SeriesPointsSerializer(serializers.Serializer):
    series = SeriesKeySerializer()
    resolution = SeriesSpanSerializer(many=True, help_text=(
        "the asked range split at the raw window's start, oldest first: where each part's points come from"))
    points = SeriesPointSerializer(many=True, help_text="oldest first")
