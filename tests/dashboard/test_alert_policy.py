"""The alert page shows the detection policy each series was judged by, with
where each value came from."""
from regressions.detection import detect_benchmark
from regressions.models import Alert, DetectionPolicy

from .helpers import table_rows
from .seed import MACHINES


def policy_rows(client, seeded):
    return table_rows(client.get(f"/alerts/{seeded.summary.pk}/").content.decode(), "policies")


def test_it_shows_the_default_policy_and_its_sources(client, seeded, settings):
    rows = policy_rows(client, seeded)
    by_series = {row["cells"][0]: row["cells"][1:] for row in rows}
    assert by_series[f"end_to_end on {MACHINES[0]}"] == [
        "2.0% default", "up (slower is bad) default", f"{settings.ROOFWATCH_DETECTION_WINDOW} runs default", "no default",
        "no default"]
    assert by_series[f"fc1 on {MACHINES[0]}"][0] == "5.0% default"


def test_it_shows_a_benchmark_policy_once_for_the_series_it_applied_to(client, seeded):
    benchmark = seeded.summary.alerts.first().benchmark
    DetectionPolicy.objects.create(project=benchmark.project, benchmark=benchmark, min_rel_change=0.1, window=100)
    detect_benchmark(seeded.machines[MACHINES[0]].pk, benchmark.pk)
    [row] = policy_rows(client, seeded)
    assert row["cells"][0] == f"end_to_end on {MACHINES[0]}, fc1 on {MACHINES[0]}"
    assert row["cells"][1:4] == ["10.0% benchmark", "up (slower is bad) default", "100 runs benchmark"]


def test_alerts_filed_before_policies_show_no_policy_table(client, seeded):
    Alert.objects.update(policy={})
    html = client.get(f"/alerts/{seeded.summary.pk}/").content.decode()
    assert 'id="policies"' not in html and "Affected series" in html
