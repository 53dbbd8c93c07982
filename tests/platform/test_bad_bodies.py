"""Bodies the API cannot read, or holds text PostgreSQL cannot store, get a
4xx whose message names the problem, on every endpoint that takes a body, and
nothing is stored: not a row more in any table of the platform."""
from __future__ import annotations

import json

import pytest
from django.apps import apps
from django.contrib.auth.models import User

from regressions.models import AlertSummary
from results.models import Project, Run
from tests.report_factory import make_report

from .job_fixtures import make_job

PLATFORM_APPS = {"auth", "fleet", "results", "regressions", "notify"}

DEEP = "[" * 100_000
BAD_BODIES = {
    "nested 100,000 deep": (DEEP, "nested too deeply"),
    "nested 33 deep": ('{"a": ' + "[" * 32 + "]" * 32 + "}", "nested too deeply"),
    "not UTF-8": (b'{"name": "\xff\xfe"}', "not valid utf-8"),
    "an encoded lone surrogate": (b'{"name": "\xed\xbf\xbf"}', "not valid utf-8"),
    "malformed": ('{"name": ', "Malformed JSON"),
    "a raw NUL": ('{"name": "a\x00b"}', "Malformed JSON"),
}


def all_rows() -> dict[str, int]:
    return {m._meta.label: m.objects.count() for m in apps.get_models() if m._meta.app_label in PLATFORM_APPS}


@pytest.fixture
def endpoints(client, token, machine, upload) -> list[tuple[str, str, dict]]:
    """(method, url, headers) of every endpoint that reads a JSON body, with credentials it accepts."""
    assert upload(make_report()).status_code == 201
    job = make_job(machine)
    project = Project.objects.get()
    summary = AlertSummary.objects.create(key="k", project=project, classification="compute")
    client.force_login(User.objects.create_user("ana"))
    agent = {"HTTP_AUTHORIZATION": f"Token {token}"}
    return [
        ("post", "/api/v1/runs/", agent), ("post", "/api/v1/runs/batch/", agent),
        ("post", "/api/v1/agents/register", {}), ("post", "/api/v1/jobs/claim", agent),
        ("post", f"/api/v1/jobs/{job.pk}/heartbeat", agent), ("post", f"/api/v1/jobs/{job.pk}/complete", agent),
        ("patch", f"/api/v1/alerts/summaries/{summary.pk}/", {}),
    ]


@pytest.mark.parametrize("body, problem", BAD_BODIES.values(), ids=BAD_BODIES)
def test_an_unreadable_body_is_a_400_naming_the_problem_and_stores_nothing(client, endpoints, body, problem):
    for method, url, headers in endpoints:
        before = all_rows()
        response = getattr(client, method)(url, body, content_type="application/json", **headers)
        assert response.status_code == 400, (url, response.status_code, response.content[:300])
        assert problem.lower() in response.json()["detail"].lower(), (url, response.json())
        assert all_rows() == before, url


@pytest.mark.parametrize("where", ["params value", "params key", "flags key", "nested params value"])
@pytest.mark.parametrize("text, problem", [("a\x00b", "NUL (0x00)"), ("\udfff", "lone surrogates (U+DFFF)")])
def test_text_postgresql_cannot_store_in_params_or_flags_is_refused_naming_the_field(upload, where, text, problem):
    report = make_report()
    field = "config.flags" if where == "flags key" else "benchmark.params"
    if where == "params value":
        report["benchmark"]["params"]["x"] = text
    elif where == "params key":
        report["benchmark"]["params"][text] = 1
    elif where == "flags key":
        report["config"]["flags"] = {text: True}
    else:
        report["benchmark"]["params"]["x"] = {"y": [1, text]}
    response = upload(json.dumps(report))  # ensure_ascii: a lone surrogate travels as its \udfff escape
    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == [field]
    assert problem in response.json()["errors"][field][0]
    assert Run.objects.count() == 0


def test_one_bad_report_of_a_batch_is_refused_alone(client, token, machine):
    bad = make_report()
    bad["benchmark"]["params"]["x"] = "nul\x00"
    response = client.post("/api/v1/runs/batch/", json.dumps({"reports": [bad, make_report()]}),
                           content_type="application/json", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200, response.content
    statuses = [item["status"] for item in response.json()["results"]]
    assert statuses == [400, 201] and Run.objects.count() == 1
    assert "NUL" in response.json()["results"][0]["errors"]["benchmark.params"][0]


def test_nan_is_not_json_outside_run_reports(client, token, machine):
    response = client.post("/api/v1/jobs/claim", '{"lease_seconds": NaN}', content_type="application/json",
                           HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 400 and "NaN is not a JSON number" in response.json()["detail"]


def test_an_error_that_quotes_a_lone_surrogate_is_still_answered(client, upload):
    response = upload(json.dumps({**make_report(), "\udfff": 1}))
    assert response.status_code == 400
    assert response.json()["errors"]["\\udfff"][0].startswith("Unknown field")
    client.force_login(User.objects.create_user("ana"))
    summary = AlertSummary.objects.create(key="k", project=Project.objects.create(name="p"), classification="")
    response = client.patch(f"/api/v1/alerts/summaries/{summary.pk}/", '{"status": "\\udfff"}',
                            content_type="application/json")
    assert response.status_code == 400 and "\\udfff" in response.json()["errors"]["status"][0]


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize("levels", [40, 1000, 100_000])
def test_nesting_too_deep_is_a_400_naming_where_on_every_endpoint(client, endpoints, levels):
    """Past the documented limit (core.json_body.MAX_JSON_DEPTH, 32), whether
    Python's parser still manages (40) or would recurse out (1,000, 100,000),
    the 400 names the path of the first array or object too deep."""
    body = '{"a": {"b": [1, ' + nested(levels) + "]}}"
    for method, url, headers in endpoints:
        before = all_rows()
        response = getattr(client, method)(url, body, content_type="application/json", **headers)
        assert response.status_code == 400, (url, response.status_code, response.content[:300])
        detail = response.json()["detail"]
        assert "nested too deeply at a.b[1]" + "[0]" * 29 + ": at most 32 levels" in detail, (url, detail)
        assert all_rows() == before, url


@pytest.mark.parametrize("levels", [40, 1000])
def test_nesting_too_deep_inside_a_report_names_the_report_field(upload, levels):
    report = make_report()
    report["benchmark"]["params"]["x"] = "DEEP"
    response = upload(json.dumps(report).replace('"DEEP"', nested(levels)))
    assert response.status_code == 400, response.content
    body = response.json()
    assert "benchmark.params" in body["detail"], body
    assert Run.objects.count() == 0


@pytest.mark.parametrize("bad", ["NUL", "surrogate", "deep"])
def test_one_unstorable_batch_item_gets_its_own_400_and_the_others_are_stored(client, token, bad):
    """A batch item holding what PostgreSQL or the canonical hash cannot take
    is answered on its own, naming the field; the rest of the batch is stored."""
    good, broken = make_report(), make_report()
    broken["benchmark"]["params"]["x"] = "MARK"
    replacement = {"NUL": '"a\\u0000b"', "surrogate": '"\\udfff"', "deep": nested(40)}[bad]
    body = json.dumps({"reports": [good, broken]}).replace('"MARK"', replacement)
    response = client.post("/api/v1/runs/batch/", body, content_type="application/json",
                           HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200, response.content
    first, second = response.json()["results"]
    assert first["status"] == 201 and second["status"] == 400, (first, second)
    assert "benchmark.params" in second["errors"], second
    assert Run.objects.count() == 1
