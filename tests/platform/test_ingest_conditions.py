"""A report's noise conditions (what the agent's quiet wait saw) are validated
and stored with the run."""
from results.models import Run
from tests.platform.conftest import row_counts
from tests.report_factory import make_report

CONDITIONS = {
    "loadavg_before": [1.5, 1.2, 0.9], "loadavg_start": [0.3, 0.8, 0.8], "loadavg_after": [1.1, 0.9, 0.8],
    "max_load": 0.5, "quiet": True, "waited_seconds": 12.5, "cpus": [1],
}


def test_it_stores_the_conditions_and_returns_them_with_the_run(upload, client):
    response = upload(make_report(conditions=CONDITIONS))
    assert response.status_code == 201, response.content
    run = Run.objects.get()
    assert run.conditions == CONDITIONS
    assert client.get(f"/api/v1/runs/{run.pk}/").json()["conditions"] == CONDITIONS


def test_a_report_without_conditions_is_stored_with_none(upload):
    assert upload(make_report()).status_code == 201
    assert Run.objects.get().conditions is None


def test_it_names_a_bad_load_average_and_writes_nothing(upload):
    before = row_counts()
    response = upload(make_report(conditions={**CONDITIONS, "loadavg_start": [0.3, 0.8]}))
    assert response.status_code == 400
    assert "conditions.loadavg_start" in response.json()["errors"]
    assert row_counts() == before


def test_it_refuses_an_unknown_condition(upload):
    response = upload(make_report(conditions={**CONDITIONS, "temperature": 70}))
    assert response.status_code == 400
    assert any(key.startswith("conditions") for key in response.json()["errors"])
