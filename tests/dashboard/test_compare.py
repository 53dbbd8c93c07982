"""Compare two runs: per-layer deltas, largest absolute change first."""
import pytest

from .helpers import chart_url, table_rows
from .seed import MACHINES, SLOW_FROM


def test_the_slowed_layer_comes_first_with_its_change(client, seeded):
    runs = seeded.runs[MACHINES[0]]
    html = client.get(f"/compare/?before={runs[SLOW_FROM - 1].pk}&after={runs[SLOW_FROM].pk}").content.decode()
    rows = table_rows(html, "deltas")
    assert len(rows) == 6
    assert rows[0]["attrs"]["data-layer"] == "fc1"
    assert rows[0]["cells"][4].startswith("+")
    deltas = [abs(float(row["cells"][4].replace("+", "").replace(",", ""))) for row in rows]
    assert deltas == sorted(deltas, reverse=True)


def test_the_roofline_loads_each_layer_before_and_after_from_the_dash_api(client, seeded):
    runs = seeded.runs[MACHINES[0]]
    html = client.get(f"/compare/?before={runs[0].pk}&after={runs[-1].pk}").content.decode()
    url = chart_url(html, "compare-roofline")
    assert url == f"/dash-api/compare/?before={runs[0].pk}&after={runs[-1].pk}"
    assert 'id="compare-data"' not in html and 'id="roof-data"' not in html

    body = client.get(url).json()
    assert (body["before"], body["after"]) == (runs[0].pk, runs[-1].pk)
    assert body["peaks"] == {"gflops": runs[-1].peak_gflops, "gbs": runs[-1].peak_gbs}
    data = body["layers"]
    assert {d["name"] for d in data} == {"fc0", "relu0", "fc1", "relu1", "fc2", "relu2"}
    assert all(d["before"]["ai"] > 0 and d["after"]["gflops"] > 0 for d in data)


def test_the_compare_data_comes_largest_change_first_like_the_table(client, seeded):
    runs = seeded.runs[MACHINES[0]]
    query = f"?before={runs[SLOW_FROM - 1].pk}&after={runs[SLOW_FROM].pk}"
    rows = table_rows(client.get("/compare/" + query).content.decode(), "deltas")
    data = client.get("/dash-api/compare/" + query).json()["layers"]
    assert [d["name"] for d in data] == [row["attrs"]["data-layer"] for row in rows]
    assert data[0]["name"] == "fc1" and data[0]["delta_ms"] > 0 and data[0]["rel_pct"] > 100


def test_a_layer_on_one_side_only_has_no_point_on_the_other(client, seeded, db):
    from results.models import LayerMeasurement

    runs = seeded.runs[MACHINES[0]]
    LayerMeasurement.objects.filter(run=runs[1], name="relu2").delete()
    data = client.get(f"/dash-api/compare/?before={runs[0].pk}&after={runs[1].pk}").json()["layers"]
    (relu2,) = [d for d in data if d["name"] == "relu2"]
    assert relu2["after"] is None and relu2["before"]["gflops"] > 0 and relu2["rel_pct"] is None


@pytest.mark.parametrize("query, param", [
    ("after=1", "before"), ("before=1", "after"), ("before=x&after=1", "before"), ("before=1&after=0", "after"),
    ("before=1&after=1e3", "after"),
])
def test_the_compare_data_needs_two_run_ids_and_names_a_bad_one(client, seeded, query, param):
    query = query.replace("before=1", f"before={seeded.runs[MACHINES[0]][0].pk}")
    response = client.get(f"/dash-api/compare/?{query}")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [param]


def test_the_compare_data_of_an_unknown_run_is_404_naming_it(client, seeded):
    response = client.get(f"/dash-api/compare/?before={seeded.runs[MACHINES[0]][0].pk}&after=999999")
    assert response.status_code == 404 and "999999" in response.json()["detail"] and "after" in response.json()["detail"]


def test_a_missing_or_unknown_run_is_404_naming_the_parameter(client, seeded):
    response = client.get("/compare/?before=1")
    assert response.status_code == 404
    assert client.get("/compare/?before=1&after=999999").status_code == 404
