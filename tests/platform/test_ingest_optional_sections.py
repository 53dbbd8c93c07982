"""A report's optional sections are validated, stored with the run and served
with it; a report without one stores None:
- accuracy: a quantized run's accuracy delta against fp32 (engine.quant.accuracy);
- conditions: what the agent's quiet wait saw (noise conditions)."""
import pytest

from results.models import Run
from tests.platform.conftest import row_counts
from tests.report_factory import make_report

ACCURACY = {
    "reference": "fp32", "samples": 512, "max_abs_error": 0.0031, "mean_abs_error": 0.0004,
    "metric": "auc_agreement", "agreement": 0.998, "fp32_layers": ["top.fc3"], "calibration": None,
}
CONDITIONS = {
    "loadavg_before": [1.5, 1.2, 0.9], "loadavg_start": [0.3, 0.8, 0.8], "loadavg_after": [1.1, 0.9, 0.8],
    "max_load": 0.5, "quiet": True, "waited_seconds": 12.5, "cpus": [1],
}
# section -> (a valid value, the report fields a run with it comes with, an unknown key and value)
SECTIONS = {
    "accuracy": (ACCURACY, {"config": {"quant": "int8-rowwise-emb"}}, {"top5": 0.9}),
    "conditions": (CONDITIONS, {}, {"temperature": 70}),
}


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_it_stores_the_section_and_returns_it_with_the_run(upload, client, section):
    value, fields, _ = SECTIONS[section]
    response = upload(make_report(**fields, **{section: value}))
    assert response.status_code == 201, response.content
    run = Run.objects.get()
    assert getattr(run, section) == value
    assert client.get(f"/api/v1/runs/{run.pk}/").json()[section] == value


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_a_report_without_the_section_is_stored_with_none(upload, section):
    assert upload(make_report()).status_code == 201
    assert getattr(Run.objects.get(), section) is None


@pytest.mark.parametrize("section, change, field", [
    ("accuracy", {"agreement": 1.5}, "accuracy.agreement"),
    ("accuracy", {"max_abs_error": -1.0}, "accuracy.max_abs_error"),
    ("accuracy", {"metric": "f1"}, "accuracy.metric"),
    ("accuracy", {"calibration": "entropy"}, "accuracy.calibration"),
    ("accuracy", {"metric": "none"}, "accuracy.agreement"),  # an agreement without a metric
    ("conditions", {"loadavg_start": [0.3, 0.8]}, "conditions.loadavg_start"),
])
def test_it_names_a_bad_field_and_writes_nothing(upload, section, change, field):
    value = SECTIONS[section][0]
    before = row_counts()
    response = upload(make_report(**{section: {**value, **change}}))
    assert response.status_code == 400
    assert field in response.json()["errors"], response.json()
    assert row_counts() == before


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_it_refuses_an_unknown_key(upload, section):
    value, _, unknown = SECTIONS[section]
    response = upload(make_report(**{section: {**value, **unknown}}))
    assert response.status_code == 400
    assert any(key.startswith(section) for key in response.json()["errors"])
