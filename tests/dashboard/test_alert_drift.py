"""The alert page says which alerts are creeping drifts, with the ramp's first and last run."""
from regressions.models import DRIFT, Alert


def test_a_drift_alert_names_its_ramp(client, seeded):
    alert = seeded.summary.alerts.order_by("id").first()
    Alert.objects.filter(pk=alert.pk).update(kind=DRIFT, ramp_start=alert.run_before, ramp_end=alert.run_after)
    html = client.get(f"/alerts/{seeded.summary.pk}/").content.decode()
    assert html.count('class="dim small alert-drift"') == 1
    assert (f'creeping drift, runs <a href="/runs/{alert.run_before_id}/">{alert.run_before_id}</a>–'
            f'<a href="/runs/{alert.run_after_id}/">{alert.run_after_id}</a>') in html


def test_step_alerts_say_nothing_of_a_ramp(client, seeded):
    assert "creeping drift" not in client.get(f"/alerts/{seeded.summary.pk}/").content.decode()
