"""Under /api/ and /hooks/ every error is the API's JSON body, whoever answers
it (a view, the URL resolver, a plain Django view); an Authorization header
the server does not understand is a 401; a malformed query value is a 400
naming the parameter, never silently ignored."""
from __future__ import annotations

import pytest

from fleet.models import Machine


@pytest.mark.parametrize("path, status", [
    ("/api/v1/jobs/%C2%84/", 404), ("/api/v1/jobs/%C2%84/complete", 404), ("/api/v1/jobs/%C2%84/heartbeat", 404),
    ("/api/v1/series/m/x/l/", 404), ("/api/v1/no-such-thing/", 404), ("/api/nothing", 404),
    ("/hooks/nothing/", 404), ("/hooks/github/1/", 405), ("/hooks/ci/1/", 405),
])
def test_errors_django_answers_itself_are_json(client, db, path, status):
    response = client.get(path)
    assert response.status_code == status, response.content[:200]
    assert response["Content-Type"] == "application/json", response.content[:200]
    assert response.json()["detail"]
    if status == 405:
        assert response["Allow"] == "POST"


def test_an_uncaught_exception_under_the_api_is_a_json_500(client, db, monkeypatch):
    from results import views

    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(views.RunViewSet, "list", explode)
    client.raise_request_exception = False
    response = client.get("/api/v1/runs/")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert "boom" not in response.content.decode()


def test_pages_keep_their_html_404(client, db):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("header", ["Bearer x", "Basic YTpi", "Digest a=b"])
@pytest.mark.parametrize("path", ["/api/v1/runs/", "/api/v1/machines/", "/api/v1/alerts/summaries/"])
def test_an_authorization_scheme_the_server_does_not_understand_is_401(client, db, header, path):
    response = client.get(path, HTTP_AUTHORIZATION=header)
    assert response.status_code == 401, response.content
    assert response["WWW-Authenticate"] == "Token"
    assert "Unsupported Authorization scheme" in response.json()["detail"]


def test_no_authorization_header_reads_anonymously(client, db):
    assert client.get("/api/v1/runs/").status_code == 200


@pytest.mark.parametrize("query, name", [
    ("limit=true", "limit"), ("limit=0", "limit"), ("limit=", "limit"), ("limit=1.0", "limit"), ("limit= 5", "limit"),
    ("limit=1_000", "limit"), ("offset=null", "offset"), ("offset=1.5e-38", "offset"), ("offset=-1", "offset"),
    ("offset=", "offset"), ("offset=1000000001", "offset"), ("limit=5&limit=6", "limit"),
])
@pytest.mark.parametrize("path", ["/api/v1/runs/", "/api/v1/jobs/", "/api/v1/series/", "/api/v1/alerts/"])
def test_malformed_paging_values_are_a_400_naming_the_parameter(client, db, path, query, name):
    response = client.get(f"{path}?{query}")
    assert response.status_code == 400, (query, response.content)
    assert list(response.json()["errors"]) == [name]


@pytest.mark.parametrize("path, query, name", [
    ("/api/v1/alerts/", "benchmark=", "benchmark"), ("/api/v1/alerts/", "benchmark=0", "benchmark"),
    ("/api/v1/bisections/", "summary=", "summary"), ("/api/v1/detection-policies/", "benchmark=x", "benchmark"),
    ("/api/v1/series/", "benchmark=", "benchmark"), ("/api/v1/runs/", "purpose=all", "purpose"),
    ("/api/v1/jobs/", "status=running", "status"), ("/api/v1/jobs/", "kind=nope", "kind"),
])
def test_malformed_filter_values_are_a_400_naming_the_parameter(client, db, path, query, name):
    response = client.get(f"{path}?{query}")
    assert response.status_code == 400, (query, response.content)
    assert list(response.json()["errors"]) == [name]


def test_good_paging_values_page(client, db):
    for i in range(3):
        Machine.objects.create(name=f"m{i}")
    body = client.get("/api/v1/machines/?limit=2&offset=1").json()
    assert [m["name"] for m in body["results"]] == ["m1", "m2"]
    assert client.get("/api/v1/machines/?limit=5000").status_code == 200  # clamped to 1000
