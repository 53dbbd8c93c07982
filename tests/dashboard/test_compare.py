"""Compare two runs: per-layer deltas, largest absolute change first."""
from .helpers import table_rows
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


def test_the_page_embeds_each_layer_before_and_after_for_the_roofline(client, seeded):
    runs = seeded.runs[MACHINES[0]]
    response = client.get(f"/compare/?before={runs[0].pk}&after={runs[-1].pk}")
    data = response.context["chart_data"]
    assert {d["name"] for d in data} == {"fc0", "relu0", "fc1", "relu1", "fc2", "relu2"}
    assert all(d["before"]["ai"] > 0 and d["after"]["gflops"] > 0 for d in data)


def test_a_missing_or_unknown_run_is_404_naming_the_parameter(client, seeded):
    response = client.get("/compare/?before=1")
    assert response.status_code == 404
    assert client.get("/compare/?before=1&after=999999").status_code == 404
