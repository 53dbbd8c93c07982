"""/dash-api/series/: a layer on every machine, decimated, with its change points."""
from .seed import MACHINES, RUNS, SLOW_FROM


def get(client, **params):
    return client.get("/dash-api/series/", params)


def test_it_returns_one_line_per_machine_with_every_point(client, seeded):
    body = get(client, benchmark=seeded.benchmark_id, layer="fc1").json()
    assert [m["name"] for m in body["machines"]] == list(MACHINES)
    for machine in body["machines"]:
        assert machine["total"] == RUNS and len(machine["points"]) == RUNS and not machine["decimated"]
    point = body["machines"][0]["points"][0]
    assert {"t", "run", "commit", "model_version", "config_hash", "value", "p25", "p75"} <= set(point)
    assert body["series"]["layer"] == "fc1" and body["series"]["unit"] == "s"


def test_it_decimates_on_the_server_to_max_points(client, seeded):
    body = get(client, benchmark=seeded.benchmark_id, layer="fc1", max_points=5).json()
    first = body["machines"][0]
    assert len(first["points"]) == 5 and first["total"] == RUNS and first["decimated"]
    runs = [p["run"] for p in first["points"]]
    assert runs[0] == seeded.runs[MACHINES[0]][0].pk and runs[-1] == seeded.runs[MACHINES[0]][-1].pk


def test_it_lists_the_change_point_with_its_alert_summary(client, seeded):
    body = get(client, benchmark=seeded.benchmark_id, layer="fc1").json()
    (change,) = body["changes"]
    first_bad = seeded.runs[MACHINES[0]][SLOW_FROM]
    assert change["run"] == first_bad.pk and change["commit"] == first_bad.commit
    assert change["summary"] == seeded.summary.pk and change["url"] == f"/alerts/{seeded.summary.pk}/"
    assert change["machine"] == MACHINES[0] and change["rel_change"] > 1.5


def test_it_sends_the_configs_of_the_points_shown(client, seeded):
    body = get(client, benchmark=seeded.benchmark_id, layer="end_to_end").json()
    hashes = {p["config_hash"] for m in body["machines"] for p in m["points"]}
    assert set(body["configs"]) == hashes
    assert all("passes" in config for config in body["configs"].values())


def test_it_needs_a_benchmark(client, db):
    response = get(client)
    assert response.status_code == 400 and "benchmark" in str(response.json())


def test_an_unknown_benchmark_is_404_naming_it(client, db):
    response = get(client, benchmark=987654)
    assert response.status_code == 404 and "987654" in str(response.json())


def test_an_unknown_layer_is_404_naming_it(client, seeded):
    response = get(client, benchmark=seeded.benchmark_id, layer="nope")
    assert response.status_code == 404 and "'nope'" in str(response.json())


def test_a_bad_max_points_is_400_naming_it(client, seeded):
    response = get(client, benchmark=seeded.benchmark_id, max_points=2)
    assert response.status_code == 400 and "max_points" in str(response.json())
