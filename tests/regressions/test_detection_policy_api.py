"""The detection policies API: read as core.access allows, written by
signed-in users only; bad bodies are a 400 naming the field."""
import pytest
from django.contrib.auth.models import User

from fleet.models import Machine
from regressions.models import DetectionPolicy
from tests.regressions.history import history, ingest_all

pytestmark = pytest.mark.django_db
POLICIES = "/api/v1/detection-policies/"


@pytest.fixture
def benchmark():
    return ingest_all(history(2, layers=2), Machine.objects.create(name="m1"))[0].benchmark


@pytest.fixture
def user_client(client):
    client.force_login(User.objects.create_user("ana", password="pw"))
    return client


def post(client, body):
    return client.post(POLICIES, body, content_type="application/json")


def test_a_signed_in_user_adds_changes_and_removes_a_series_policy(user_client, benchmark):
    response = post(user_client, {"benchmark": benchmark.pk, "machine": "m1", "layer": "fc0", "min_rel_change": 0.02,
                                  "bad_direction": {"median": "down"}, "window": 50, "muted": False})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["scope"] == "series" and body["project"] == benchmark.project.name
    assert (body["machine"], body["layer"], body["window"], body["alert_improvements"]) == ("m1", "fc0", 50, None)
    assert body["updated_by"] == "ana"
    url = f"{POLICIES}{body['id']}/"
    changed = user_client.patch(url, {"window": None, "muted": True}, content_type="application/json")
    assert changed.status_code == 200, changed.json()
    stored = DetectionPolicy.objects.get()
    assert (stored.window, stored.muted, stored.min_rel_change) == (None, True, 0.02)
    assert user_client.get(POLICIES, {"benchmark": benchmark.pk}).json()["count"] == 1
    assert user_client.delete(url).status_code == 204
    assert DetectionPolicy.objects.count() == 0


def test_a_project_policy_is_named_by_the_project(user_client, benchmark):
    response = post(user_client, {"project": benchmark.project.name, "min_rel_change": 0.1})
    assert response.status_code == 201, response.json()
    assert response.json()["scope"] == "project" and response.json()["benchmark"] is None


def test_anyone_reads_but_only_a_signed_in_user_writes(client, benchmark):
    policy = DetectionPolicy.objects.create(project=benchmark.project, window=30)
    assert client.get(POLICIES).json()["results"][0]["window"] == 30
    assert client.get(f"{POLICIES}{policy.pk}/").status_code == 200
    assert post(client, {"project": benchmark.project.name}).status_code in (401, 403)
    assert client.patch(f"{POLICIES}{policy.pk}/", {"window": 40},
                        content_type="application/json").status_code in (401, 403)
    assert client.delete(f"{POLICIES}{policy.pk}/").status_code in (401, 403)
    assert DetectionPolicy.objects.get().window == 30


def test_a_machine_token_may_read_but_not_write(client, benchmark, settings):
    settings.ROOFWATCH_ANONYMOUS_READ = False
    raw = Machine.objects.get(name="m1").rotate_token()
    headers = {"HTTP_AUTHORIZATION": f"Token {raw}"}
    assert client.get(POLICIES).status_code in (401, 403)
    assert client.get(POLICIES, **headers).status_code == 200
    response = client.post(POLICIES, {"project": benchmark.project.name}, content_type="application/json", **headers)
    assert response.status_code == 403
    assert DetectionPolicy.objects.count() == 0


@pytest.mark.parametrize("body, field", [
    ({}, "project"),
    ({"layer": "fc0"}, "benchmark"),
    ({"project": "P", "min_rel_change": 0}, "min_rel_change"),
    ({"project": "P", "min_rel_change": -0.1}, "min_rel_change"),
    ({"project": "P", "min_rel_change": "0.1"}, "min_rel_change"),
    ({"project": "P", "min_rel_change": 11}, "min_rel_change"),
    ({"project": "P", "window": 5}, "window"),
    ({"project": "P", "window": 100_000}, "window"),
    ({"project": "P", "window": 20.5}, "window"),
    ({"project": "P", "muted": "yes"}, "muted"),
    ({"project": "P", "alert_improvements": 1}, "alert_improvements"),
    ({"project": "P", "bad_direction": {"median": "sideways"}}, "bad_direction"),
    ({"project": "P", "bad_direction": {"p99": "up"}}, "bad_direction"),
    ({"project": "P", "bad_direction": "down"}, "bad_direction"),
    ({"project": "P", "machine": "m1"}, "benchmark"),
    ({"project": "P", "min_rel_chnage": 0.2}, "min_rel_chnage"),  # a misspelt key is not dropped unsaid
])
def test_bad_bodies_are_refused_naming_the_field(user_client, benchmark, body, field):
    body = {k: benchmark.project.name if v == "P" else v for k, v in body.items()}
    response = post(user_client, body)
    assert response.status_code == 400
    assert any(key.split(".")[0] == field for key in response.json()["errors"]), response.json()
    assert DetectionPolicy.objects.count() == 0


@pytest.mark.parametrize("body, field", [({"project": "nope"}, "project"), ({"benchmark": 10**30}, "benchmark"),
                                         ({"project": "P", "machine": "nope"}, "machine")])
def test_a_name_or_id_that_names_nothing_is_a_404_naming_the_field(user_client, benchmark, body, field):
    body = {k: benchmark.project.name if v == "P" else v for k, v in body.items()}
    response = post(user_client, body)
    assert response.status_code == 404, response.content
    assert response.json()["detail"].startswith(f"{field}: no "), response.json()
    assert DetectionPolicy.objects.count() == 0


def test_a_benchmark_of_another_project_is_refused(user_client, benchmark):
    other = ingest_all(history(1, layers=1, source={"repository": "https://example.com/other.git"}),
                       Machine.objects.get(name="m1"))[0].benchmark
    assert other.project != benchmark.project
    response = post(user_client, {"project": benchmark.project.name, "benchmark": other.pk})
    assert response.status_code == 400 and "project" in response.json()["errors"]


def test_a_second_policy_of_one_scope_is_refused(user_client, benchmark):
    assert post(user_client, {"benchmark": benchmark.pk, "layer": "fc0", "window": 20}).status_code == 201
    response = post(user_client, {"benchmark": benchmark.pk, "layer": "fc0", "window": 30})
    assert response.status_code == 400 and "layer" in response.json()["errors"]
    assert post(user_client, {"benchmark": benchmark.pk, "window": 30}).status_code == 201
    assert post(user_client, {"benchmark": benchmark.pk, "machine": "m1", "layer": "fc0"}).status_code == 201
    assert DetectionPolicy.objects.count() == 3


def test_moving_a_policy_onto_a_taken_scope_is_refused(user_client, benchmark):
    post(user_client, {"benchmark": benchmark.pk, "layer": "fc0", "window": 20})
    second = post(user_client, {"benchmark": benchmark.pk, "layer": "relu0", "window": 30}).json()
    response = user_client.patch(f"{POLICIES}{second['id']}/", {"layer": "fc0"}, content_type="application/json")
    assert response.status_code == 400 and "layer" in response.json()["errors"]
    assert DetectionPolicy.objects.get(pk=second["id"]).layer == "relu0"


@pytest.mark.parametrize("field", ["project", "machine", "layer"])
@pytest.mark.parametrize("text", ["a\x00b", "a\udcd1b"])
def test_text_the_database_cannot_store_is_a_400_naming_the_field(user_client, benchmark, field, text):
    """PostgreSQL cannot compare or store NUL or lone surrogates: a 400 naming the field, not a 500."""
    body = {"benchmark": benchmark.pk, "layer": "fc0", "min_rel_change": 0.02, field: text}
    response = post(user_client, body)
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"], response.json()  # DRF's CharField refuses both for layer
    assert DetectionPolicy.objects.count() == 0
