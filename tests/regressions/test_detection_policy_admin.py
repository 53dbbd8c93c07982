"""Detection policies are a person's settings: the admin adds and edits them,
under the same rules as the API, and records who."""
import pytest

from fleet.models import Machine
from regressions.models import DetectionPolicy
from tests.regressions.history import history, ingest_all

pytestmark = pytest.mark.django_db
ADD = "/admin/regressions/detectionpolicy/add/"


@pytest.fixture
def benchmark():
    return ingest_all(history(1, layers=1), Machine.objects.create(name="m1"))[0].benchmark


def form(benchmark, **fields):
    return {"project": "", "benchmark": benchmark.pk, "machine": "", "layer": "", "min_rel_change": "",
            "bad_direction": "{}", "window": "", "muted": "unknown", "alert_improvements": "unknown", **fields}


def test_the_admin_adds_a_benchmark_policy_with_its_project(admin_client, admin_user, benchmark):
    response = admin_client.post(ADD, form(benchmark, min_rel_change="0.1", bad_direction='{"median": "down"}',
                                           muted="true"))
    assert response.status_code == 302, response.content.decode()[:3000]
    policy = DetectionPolicy.objects.get()
    assert (policy.project, policy.min_rel_change, policy.bad_direction, policy.muted, policy.window) == (
        benchmark.project, 0.1, {"median": "down"}, True, None)
    assert policy.updated_by == admin_user
    assert admin_client.get(f"/admin/regressions/detectionpolicy/{policy.pk}/change/").status_code == 200


def test_the_admin_refuses_bad_values_and_a_second_policy_of_a_scope(admin_client, benchmark):
    response = admin_client.post(ADD, form(benchmark, window="5", bad_direction='{"median": "sideways"}'))
    assert response.status_code == 200 and DetectionPolicy.objects.count() == 0
    errors = response.context["adminform"].form.errors
    assert "window" in errors and "bad_direction" in errors
    assert admin_client.post(ADD, form(benchmark, window="20")).status_code == 302
    response = admin_client.post(ADD, form(benchmark, window="30"))
    assert response.status_code == 200 and "benchmark" in response.context["adminform"].form.errors
    assert DetectionPolicy.objects.count() == 1
