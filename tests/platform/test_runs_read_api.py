"""GET /api/v1/runs/ and /api/v1/runs/<id>/ return what was stored."""
from fleet.models import Machine
from tests.report_factory import make_report, old_report


def _store(upload, **kwargs) -> int:
    response = upload(make_report(**kwargs))
    assert response.status_code == 201, response.content
    return response.json()["id"]


def test_it_lists_runs_newest_first(client, upload):
    old = _store(upload, started_at="2025-01-01T00:00:00+00:00")
    new = _store(upload, started_at="2025-01-03T00:00:00+00:00")
    middle = _store(upload, started_at="2025-01-02T00:00:00+00:00")
    body = client.get("/api/v1/runs/").json()
    assert body["count"] == 3
    assert [r["id"] for r in body["results"]] == [new, middle, old]


def test_it_lists_what_was_stored(client, upload):
    report = make_report(commit="c0ffee", branch="dev", started_at="2025-02-01T10:00:00+00:00")
    run_id = upload(report).json()["id"]
    [item] = client.get("/api/v1/runs/").json()["results"]
    assert item["id"] == run_id and item["url"] == f"/runs/{run_id}/"
    assert (item["machine"], item["project"], item["model"]) == ("m1", "example/roofwatch-models", "mlp")
    assert (item["commit"], item["branch"], item["params"]) == ("c0ffee", "dev", {"batch_size": 64})
    assert item["started_at"] == "2025-02-01T10:00:00Z"
    assert item["end_to_end"] == report["end_to_end"]
    assert "layers" not in item


def test_it_filters_the_list(client, upload, db):
    other_token = Machine.objects.create(name="m2").rotate_token()
    a = _store(upload, commit="aaa", branch="main", model="mlp")
    b = _store(upload, commit="bbb", branch="dev", model="mlp")
    c = _store(upload, commit="aaa", branch="main", model="dlrm")
    d = upload(make_report(fingerprint="fp-2", commit="aaa"), token=other_token).json()["id"]

    def ids(query):
        return sorted(r["id"] for r in client.get(f"/api/v1/runs/?{query}").json()["results"])

    assert ids("machine=m2") == [d]
    assert ids("machine=m1") == sorted([a, b, c])
    assert ids("model=dlrm") == [c]
    assert ids("commit=aaa") == sorted([a, c, d])
    assert ids("branch=dev") == [b]
    assert ids("commit=aaa&machine=m1&model=mlp") == [a]
    assert ids("machine=nobody") == []


def test_it_paginates_the_list(client, upload):
    stored = [_store(upload, started_at=f"2025-01-0{day}T00:00:00+00:00") for day in range(1, 6)]
    page = client.get("/api/v1/runs/?limit=2&offset=2").json()
    assert page["count"] == 5
    assert [r["id"] for r in page["results"]] == stored[::-1][2:4]
    assert "offset=4" in page["next"]


def test_it_returns_a_run_with_its_layers(client, upload):
    report = make_report(layers=6, source={"ci_url": "https://ci.example.com/build/7"})
    run_id = upload(report).json()["id"]
    body = client.get(f"/api/v1/runs/{run_id}/").json()
    assert body["id"] == run_id and body["idempotency_key"] == report["idempotency_key"]
    assert body["config"] == report["config"] and body["ci_url"] == "https://ci.example.com/build/7"
    assert (body["warmup"], body["repeats"]) == (report["warmup"], report["repeats"])
    # work_unknown is optional in a report (absent: the work is known) and null in the API then.
    assert all(layer["work_unknown"] is None for layer in body["layers"])
    assert body["layers"] == [{k: layer.get(k) for k in body["layers"][0]} for layer in report["layers"]]
    assert [layer["index"] for layer in body["layers"]] == list(range(6))


def test_it_answers_404_for_an_unknown_run(client, db):
    response = client.get("/api/v1/runs/999/")
    assert response.status_code == 404
    assert "detail" in response.json()


def test_it_returns_the_measurement_fidelity_fields_of_a_run_and_its_layers(client, upload):
    report = make_report(layers=4, fidelity=True)
    run_id = upload(report).json()["id"]
    body = client.get(f"/api/v1/runs/{run_id}/").json()
    assert body["end_to_end"] == report["end_to_end"] and body["end_to_end"]["ci_low"] is not None
    assert body["roofs"] == report["machine"]["roofs"]
    assert body["timed_page_faults"] == 0
    for key in ("threads", "roof", "roof_gflops", "roof_gbs", "kernel_bytes"):
        assert [layer[key] for layer in body["layers"]] == [layer[key] for layer in report["layers"]], key
    assert [layer["time"] for layer in body["layers"]] == [layer["time"] for layer in report["layers"]]


def test_a_run_from_an_older_report_answers_nulls_for_those_fields(client, upload):
    run_id = upload(old_report(make_report(layers=2))).json()["id"]
    body = client.get(f"/api/v1/runs/{run_id}/").json()
    assert (body["roofs"], body["timed_page_faults"]) == (None, None)
    assert (body["end_to_end"]["ci_low"], body["end_to_end"]["ci_high"]) == (None, None)
    assert {layer["roof"] for layer in body["layers"]} == {None}
    assert {layer["kernel_bytes"] for layer in body["layers"]} == {None}
