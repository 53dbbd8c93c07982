"""A NUL character in a filter or a name of the read API (or of a dashboard page
or its chart JSON) is a 400 or 404, never
a database error: no stored text holds one and PostgreSQL refuses it in queries."""
import pytest


@pytest.mark.parametrize(
    "url, name",
    [
        ("/api/v1/runs/?machine=m%00", "machine"),
        ("/api/v1/runs/?branch=%00", "branch"),
        ("/api/v1/benchmarks/?project=p%00", "project"),
        ("/api/v1/series/?model=%00mlp", "model"),
        ("/api/v1/series/?machine=%00", "machine"),
        # the dashboard's chart JSON and pages answer the same
        ("/dash-api/series/?benchmark=1&layer=fc%001", "layer"),
        ("/dash-api/series/?benchmark=1&machine=%00", "machine"),
        ("/series/?benchmark=1&layer=%00", "layer"),
        ("/alerts/?status=%00", "status"),
    ],
)
def test_it_rejects_a_nul_in_a_filter_naming_it(client, db, url, name):
    response = client.get(url)
    assert response.status_code == 400
    assert response.json()["errors"] == {name: ["Must not contain NUL (0x00) characters."]}


@pytest.mark.parametrize(
    "url", ["/api/v1/machines/m%00/", "/api/v1/series/m%001/1/fc0/", "/api/v1/series/m1/1/fc%000/"]
)
def test_it_answers_404_for_a_nul_in_a_name(client, db, url):
    assert client.get(url).status_code == 404
