"""A quantized run's accuracy delta against fp32 (engine.quant.accuracy) is
validated, stored with the run and served with it; fp32 runs carry none."""
import pytest

from results.models import Run
from tests.platform.conftest import row_counts
from tests.report_factory import make_report

ACCURACY = {
    "reference": "fp32", "samples": 512, "max_abs_error": 0.0031, "mean_abs_error": 0.0004,
    "metric": "auc_agreement", "agreement": 0.998, "fp32_layers": ["top.fc3"], "calibration": None,
}


def test_it_stores_the_accuracy_and_returns_it_with_the_run(upload, client):
    response = upload(make_report(config={"quant": "int8-rowwise-emb"}, accuracy=ACCURACY))
    assert response.status_code == 201, response.content
    run = Run.objects.get()
    assert run.accuracy == ACCURACY
    assert client.get(f"/api/v1/runs/{run.pk}/").json()["accuracy"] == ACCURACY


def test_a_report_without_accuracy_is_stored_with_none(upload):
    assert upload(make_report()).status_code == 201
    assert Run.objects.get().accuracy is None


@pytest.mark.parametrize("change, field", [
    ({"agreement": 1.5}, "accuracy.agreement"),
    ({"max_abs_error": -1.0}, "accuracy.max_abs_error"),
    ({"metric": "f1"}, "accuracy.metric"),
    ({"calibration": "entropy"}, "accuracy.calibration"),
    ({"metric": "none"}, "accuracy.agreement"),  # an agreement without a metric
])
def test_it_names_a_bad_accuracy_field_and_writes_nothing(upload, change, field):
    before = row_counts()
    response = upload(make_report(accuracy={**ACCURACY, **change}))
    assert response.status_code == 400
    assert field in response.json()["errors"], response.json()
    assert row_counts() == before


def test_it_refuses_an_unknown_accuracy_key(upload):
    response = upload(make_report(accuracy={**ACCURACY, "top5": 0.9}))
    assert response.status_code == 400
    assert any(key.startswith("accuracy") for key in response.json()["errors"])
