"""Bisection API shapes."""
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from bisection.models import Bisection, BisectRun
from bisection.steps import culprit_views, rounds, steps
from core.access import HidesPrivateFields
from core.known_keys import KnownKeysSerializer
from core.references import ExistingPrimaryKeyField
from regressions.models import AlertSummary


class BisectRunSerializer(HidesPrivateFields, serializers.ModelSerializer):
    private_fields = ("error",)  # the job's error, as the job API hides it
    job = serializers.IntegerField(source="job_id")
    run = serializers.IntegerField(source="run_id", allow_null=True)
    error = serializers.CharField(allow_null=True, help_text="why the run failed; null for anonymous readers")

    class Meta:
        model = BisectRun
        fields = ["job", "run", "status", "value", "spread", "n", "error"]


class StepSerializer(serializers.Serializer):
    number = serializers.IntegerField(help_text="1 for the first commit measured")
    index = serializers.IntegerField(help_text="position in the range: 0 is the last good commit")
    sha = serializers.CharField()
    subject = serializers.CharField()
    url = serializers.CharField(allow_null=True)
    level = serializers.FloatField(allow_null=True, help_text="the commit's level, median seconds")
    verdict = serializers.CharField(help_text="good, bad, between, skipped, culprit, or empty while it runs")
    runs = BisectRunSerializer(many=True)


class CulpritSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    sha = serializers.CharField()
    subject = serializers.CharField()
    author = serializers.CharField()
    time = serializers.CharField()
    url = serializers.CharField(allow_null=True)
    skipped = serializers.ListField(child=serializers.CharField(),
                                    help_text="untestable commits just before it: the change may be in one")


class BisectionSerializer(HidesPrivateFields, serializers.ModelSerializer):
    private_fields = ("started_by", "cancelled_by")
    url = serializers.HyperlinkedIdentityField(view_name="bisection-detail")
    machine = serializers.CharField(source="machine.name")
    started_by = serializers.CharField(source="started_by.get_username", default=None, allow_null=True,
                                       help_text="null when it started by itself, or for anonymous readers")
    cancelled_by = serializers.CharField(source="cancelled_by.get_username", default=None, allow_null=True)
    commit_count = serializers.SerializerMethodField(help_text="commits in the range after the last good one")
    rounds = serializers.SerializerMethodField(help_text="benchmark runs that came back with a measurement")
    culprits = serializers.SerializerMethodField()
    steps = serializers.SerializerMethodField()

    class Meta:
        model = Bisection
        fields = ["id", "url", "summary", "alert", "machine", "benchmark", "layer", "repository", "last_good",
                  "first_bad", "status", "message", "commit_count", "rounds", "culprits", "steps", "started_by",
                  "cancelled_by", "created", "updated", "finished_at"]

    def get_commit_count(self, bisection: Bisection) -> int:
        return max(len(bisection.commits) - 1, 0)

    def get_rounds(self, bisection: Bisection) -> int:
        return rounds(bisection)

    @extend_schema_field(CulpritSerializer(many=True))
    def get_culprits(self, bisection: Bisection) -> list:
        return CulpritSerializer(culprit_views(bisection), many=True).data

    @extend_schema_field(StepSerializer(many=True))
    def get_steps(self, bisection: Bisection) -> list:
        return StepSerializer(steps(bisection), many=True, context=self.context).data


class StartSerializer(KnownKeysSerializer):
    summary = ExistingPrimaryKeyField(queryset=AlertSummary.objects.all(),
                                      help_text="the alert summary whose commit range to bisect")
