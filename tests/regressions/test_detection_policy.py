"""Per-series detection policy: each value comes from the series' policy, else
the benchmark's, else the project's, else the default; detection honours the
minimum change, the bad direction, the window and mute, and each alert records
the policy that applied."""
import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from engine.report import END_TO_END
from fleet.models import Machine
from notify.models import WebhookEndpoint
from notify.outbound import file_deliveries
from regressions.detection import detect_benchmark
from regressions.models import IMPROVED, IMPROVEMENT, REGRESSION, UNTRIAGED, Alert, AlertSummary, DetectionPolicy
from regressions.policy import MIN_END_TO_END_CHANGE, MIN_LAYER_CHANGE, Policies, effective
from tests.regressions.history import history, ingest_all

pytestmark = pytest.mark.django_db


@pytest.fixture
def machine() -> Machine:
    return Machine.objects.create(name="m1")


def runs_with(machine, factor: float, count: int = 40, slow_from: int = 20):
    """`count` runs of a two-layer benchmark; fc0 (most of the time) `factor` times slower from `slow_from` on."""
    return ingest_all(history(count, slow_from=slow_from, slow={"fc0": factor}, layers=2), machine)


def detect(runs) -> dict[str, Alert]:
    return {a.layer: a for a in detect_benchmark(runs[0].machine_id, runs[0].benchmark_id)}


def policy(runs, **fields) -> DetectionPolicy:
    """A policy of the runs' benchmark (a series policy when given machine or layer), or of its project."""
    benchmark = runs[0].benchmark
    if fields.pop("scope", "benchmark") == "project":
        p = DetectionPolicy(project=benchmark.project, **fields)
    else:
        p = DetectionPolicy(benchmark=benchmark, **fields)
    p.full_clean()
    p.save()
    return p


# Resolution


def test_without_policies_every_value_is_the_default(machine, settings):
    runs = runs_with(machine, 1.0, count=2)
    layer = effective(machine.pk, runs[0].benchmark, "fc0")
    e2e = effective(machine.pk, runs[0].benchmark_id, END_TO_END)
    assert (layer.min_rel_change, e2e.min_rel_change) == (MIN_LAYER_CHANGE, MIN_END_TO_END_CHANGE)
    assert (layer.bad_direction, layer.window, layer.muted, layer.alert_improvements) == (
        "up", settings.ROOFWATCH_DETECTION_WINDOW, False, False)
    assert {source for _, source in layer.sources} == {"default"}


def test_each_value_comes_from_the_most_specific_policy_that_sets_it(machine):
    runs = runs_with(machine, 1.0, count=2)
    other = Machine.objects.create(name="m2")
    policy(runs, scope="project", min_rel_change=0.2, window=50, muted=True)
    policy(runs, min_rel_change=0.1, bad_direction={"median": "both"})
    policy(runs, layer="fc0", min_rel_change=0.03)
    policy(runs, machine=other, layer="fc0", window=20)
    fc0 = effective(machine.pk, runs[0].benchmark, "fc0")
    assert (fc0.min_rel_change, fc0.source("min_rel_change")) == (0.03, "series")
    assert (fc0.bad_direction, fc0.source("bad_direction")) == ("both", "benchmark")
    assert (fc0.window, fc0.source("window")) == (50, "project")
    assert (fc0.muted, fc0.source("muted")) == (True, "project")
    assert (fc0.alert_improvements, fc0.source("alert_improvements")) == (False, "default")
    on_other = effective(other.pk, runs[0].benchmark, "fc0")
    assert (on_other.window, on_other.source("window")) == (20, "series")
    relu = effective(machine.pk, runs[0].benchmark, "relu0")
    assert (relu.min_rel_change, relu.source("min_rel_change")) == (0.1, "benchmark")
    assert fc0.as_json()["min_rel_change"] == {"value": 0.03, "source": "series"}


def test_a_machine_and_layer_policy_beats_a_layer_one_which_beats_a_machine_one(machine):
    runs = runs_with(machine, 1.0, count=2)
    policy(runs, machine=machine, min_rel_change=0.3, window=30)
    policy(runs, layer="fc0", min_rel_change=0.2, window=20)
    policy(runs, machine=machine, layer="fc0", min_rel_change=0.1)
    fc0 = effective(machine.pk, runs[0].benchmark, "fc0")
    assert (fc0.min_rel_change, fc0.window) == (0.1, 20)
    assert effective(machine.pk, runs[0].benchmark, "relu0").min_rel_change == 0.3


def test_one_query_loads_every_policy_of_a_benchmark(machine):
    runs = runs_with(machine, 1.0, count=2)
    policy(runs, scope="project", window=50)
    policy(runs, layer="fc0", min_rel_change=0.03)
    with CaptureQueriesContext(connection) as queries:
        policies = Policies.load(runs[0].benchmark_id)
        for layer in ("fc0", "relu0", END_TO_END):
            policies.effective(machine.pk, layer)
        assert policies.widest_window(machine.pk) == 50
    assert len(queries) == 1


def test_a_stored_window_above_the_setting_reads_the_setting(machine, settings):
    runs = runs_with(machine, 1.0, count=2)
    policy(runs, window=150)
    settings.ROOFWATCH_DETECTION_WINDOW = 100
    assert effective(machine.pk, runs[0].benchmark, "fc0").window == 100


def test_the_model_refuses_bad_scopes_and_values_naming_the_field(machine):
    runs = runs_with(machine, 1.0, count=2)
    project = runs[0].benchmark.project
    cases = [
        (DetectionPolicy(), "project"),
        (DetectionPolicy(project=project, layer="fc0"), "benchmark"),
        (DetectionPolicy(project=project, machine=machine), "benchmark"),
        (DetectionPolicy(project=project, min_rel_change=0), "min_rel_change"),
        (DetectionPolicy(project=project, window=9), "window"),
        (DetectionPolicy(project=project, window=100_000), "window"),
        (DetectionPolicy(project=project, bad_direction={"median": "sideways"}), "bad_direction"),
        (DetectionPolicy(project=project, bad_direction={"p99": "up"}), "bad_direction"),
    ]
    for p, field in cases:
        with pytest.raises(ValidationError) as caught:
            p.clean()
        assert field in caught.value.message_dict, (p, caught.value.message_dict)


def test_one_policy_per_scope(machine):
    runs = runs_with(machine, 1.0, count=2)
    policy(runs, scope="project", window=50)
    policy(runs, layer="fc0", window=50)
    policy(runs, machine=machine, layer="fc0", window=50)
    for fields, field in [({"scope": "project"}, "project"), ({"layer": "fc0"}, "layer"),
                          ({"machine": machine, "layer": "fc0"}, "layer")]:
        with pytest.raises(ValidationError) as caught:
            policy(runs, **fields, window=60)
        assert field in caught.value.message_dict
    benchmark_policy = policy(runs, window=60)
    assert benchmark_policy.project == runs[0].benchmark.project and benchmark_policy.scope == "benchmark"


# Detection under a policy


def test_a_3_percent_change_alerts_with_a_floor_of_2_percent_not_5(machine):
    runs = runs_with(machine, 1.03)
    assert "fc0" not in detect(runs)  # the default layer floor is 5%
    series = policy(runs, machine=machine, layer="fc0", min_rel_change=0.02)
    fc0 = detect(runs)["fc0"]
    assert fc0.direction == REGRESSION and fc0.rel_change == pytest.approx(0.03, abs=0.01)
    assert fc0.policy["min_rel_change"] == {"value": 0.02, "source": "series"}
    series.delete()
    policy(runs, min_rel_change=0.05)
    assert detect(runs) == {}  # end_to_end's 2.8% is under the benchmark's 5% too
    assert Alert.objects.get(layer="fc0").vanished_at is not None


def test_direction_down_makes_a_faster_run_the_regression(machine):
    runs = runs_with(machine, 0.7)
    policy(runs, bad_direction={"median": "down"})
    alerts = detect(runs)
    assert {a.direction for a in alerts.values()} == {REGRESSION}
    assert alerts[END_TO_END].rel_change < 0
    assert alerts[END_TO_END].policy["bad_direction"] == {"value": "down", "source": "benchmark"}
    assert AlertSummary.objects.get().status == UNTRIAGED


def test_direction_down_makes_a_slower_run_an_improvement(machine):
    runs = runs_with(machine, 1.3)
    policy(runs, scope="project", bad_direction={"median": "down"})
    assert {a.direction for a in detect(runs).values()} == {IMPROVED}
    assert AlertSummary.objects.get().status == IMPROVEMENT


def test_direction_both_alerts_either_way(machine):
    runs = runs_with(machine, 0.7)
    policy(runs, bad_direction={"median": "both"})
    assert {a.direction for a in detect(runs).values()} == {REGRESSION}


def test_a_muted_series_files_nothing_and_keeps_its_old_alerts(machine):
    runs = runs_with(machine, 3.0)
    assert set(detect(runs)) == {"fc0", END_TO_END}
    policy(runs, machine=machine, layer="fc0", muted=True)
    assert set(detect(runs)) == {END_TO_END}
    assert Alert.objects.get(layer="fc0").vanished_at is None  # left as it was, not judged
    Alert.objects.all().delete()
    policy(runs, muted=True)
    assert detect(runs) == {}
    assert Alert.objects.count() == 0


def test_a_muted_benchmark_files_no_alert_and_no_delivery(machine):
    runs = runs_with(machine, 3.0)
    WebhookEndpoint.objects.create(project=runs[0].benchmark.project, name="hook", kind="generic",
                                   url="https://hooks.example/x", secret="s")
    policy(runs, scope="project", muted=True)
    assert detect(runs) == {}
    assert (Alert.objects.count(), AlertSummary.objects.count()) == (0, 0)


def test_the_window_limits_the_runs_a_series_is_judged_over(machine):
    runs = runs_with(machine, 3.0, count=40, slow_from=25)
    policy(runs, window=12)  # the last 12 runs: all after the change
    assert detect(runs) == {}
    policy(runs, machine=machine, layer="fc0", window=30)  # reaches back before the change
    assert set(detect(runs)) == {"fc0"}


def test_improvements_are_recorded_and_never_sent(machine):
    runs = runs_with(machine, 0.7)
    WebhookEndpoint.objects.create(project=runs[0].benchmark.project, name="hook", kind="generic",
                                   url="https://hooks.example/x", secret="s")
    alerts = detect(runs)
    assert {a.direction for a in alerts.values()} == {IMPROVED}
    assert AlertSummary.objects.get().status == IMPROVEMENT
    assert file_deliveries([a.pk for a in alerts.values()]) == []


def test_alert_improvements_leaves_them_for_triage_still_unsent(machine):
    runs = runs_with(machine, 0.7)
    WebhookEndpoint.objects.create(project=runs[0].benchmark.project, name="hook", kind="generic",
                                   url="https://hooks.example/x", secret="s")
    policy(runs, alert_improvements=True)
    alerts = detect(runs)
    assert {a.direction for a in alerts.values()} == {IMPROVED}
    assert alerts[END_TO_END].policy["alert_improvements"] == {"value": True, "source": "benchmark"}
    assert AlertSummary.objects.get().status == UNTRIAGED
    assert file_deliveries([a.pk for a in alerts.values()]) == []


def test_detection_under_a_policy_is_idempotent(machine):
    runs = runs_with(machine, 1.03)
    policy(runs, layer="fc0", min_rel_change=0.02)
    first = sorted(a.pk for a in detect(runs).values())
    assert first == sorted(a.pk for a in detect(runs).values())
    assert Alert.objects.count() == len(first) == 2
