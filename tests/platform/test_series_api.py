"""GET /api/v1/series/ lists the series that exist; GET /api/v1/series/<machine>/<benchmark>/<layer>/
returns one series' points, oldest first."""
import pytest

from fleet.models import Machine
from results.models import Benchmark, LayerMeasurement
from tests.report_factory import make_report

SERIES_URL = "/api/v1/series/"


@pytest.fixture
def upload(upload, django_capture_on_commit_callbacks):
    """The ingest fixture, running its on-commit callbacks as a real commit
    would: run_ingested, whose receiver fills the series catalogue."""

    def post(*args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return upload(*args, **kwargs)

    return post


def _store(upload, day: int, **kwargs) -> int:
    response = upload(make_report(started_at=f"2025-03-{day:02d}T08:00:00+00:00", **kwargs))
    assert response.status_code == 201, response.content
    return response.json()["id"]


def _benchmark_id(model: str = "mlp") -> int:
    return Benchmark.objects.get(model=model).pk


def test_it_lists_end_to_end_then_the_layers_in_model_order(client, upload):
    _store(upload, 2, layers=3)
    _store(upload, 1, layers=3)
    bench = _benchmark_id()
    body = client.get(SERIES_URL).json()
    assert body["count"] == 4
    rows = [(s["layer"], s["op"], s["index"], s["points"]) for s in body["results"]]
    assert rows == [
        ("end_to_end", "", None, 2), ("fc0", "Linear", 0, 2), ("relu0", "Relu", 1, 2), ("fc1", "Linear", 2, 2),
    ]
    first = body["results"][1]
    assert (first["machine"], first["benchmark"], first["model"]) == ("m1", bench, "mlp")
    assert (first["first"], first["last"]) == ("2025-03-01T08:00:00Z", "2025-03-02T08:00:00Z")
    assert first["url"] == f"/api/v1/series/m1/{bench}/fc0/"


def test_it_filters_the_series_list_by_machine_benchmark_and_model(client, upload, db):
    _store(upload, 1, layers=2, model="mlp")
    _store(upload, 2, layers=1, model="dlrm")
    other = Machine.objects.create(name="m2").rotate_token()
    assert upload(make_report(fingerprint="fp-2", layers=2), token=other).status_code == 201

    def keys(query):
        return [(s["machine"], s["model"], s["layer"]) for s in client.get(f"{SERIES_URL}?{query}").json()["results"]]

    assert keys("model=dlrm") == [("m1", "dlrm", "end_to_end"), ("m1", "dlrm", "fc0")]
    assert keys("machine=m2") == [("m2", "mlp", "end_to_end"), ("m2", "mlp", "fc0"), ("m2", "mlp", "relu0")]
    assert keys(f"machine=m1&benchmark={_benchmark_id('mlp')}") == [
        ("m1", "mlp", "end_to_end"), ("m1", "mlp", "fc0"), ("m1", "mlp", "relu0"),
    ]
    assert keys("machine=nobody") == []


def test_it_paginates_the_series_list(client, upload):
    _store(upload, 1, layers=6)
    page = client.get(f"{SERIES_URL}?limit=3&offset=2").json()
    assert page["count"] == 7
    assert [s["layer"] for s in page["results"]] == ["relu0", "fc1", "relu1"]
    assert "offset=5" in page["next"]


def test_it_rejects_a_benchmark_filter_that_is_not_an_id(client, db):
    response = client.get(f"{SERIES_URL}?benchmark=mlp")
    assert response.status_code == 400
    assert response.json()["errors"] == {"benchmark": [f"Expected a whole number from 1 to {2**63 - 1}; got 'mlp'."]}


def test_it_returns_a_layer_series_oldest_first_with_run_attribution(client, upload):
    late = _store(upload, 3, commit="ccc", time_scale=1.5)
    early = _store(upload, 1, commit="aaa")
    middle = _store(upload, 2, commit="bbb", time_scale=1.2)
    body = client.get(f"{SERIES_URL}m1/{_benchmark_id()}/fc0/").json()
    assert body["series"] == {
        "machine": "m1", "benchmark": _benchmark_id(), "project": "example/roofwatch-models", "model": "mlp",
        "params": {"batch_size": 64}, "environment": "", "layer": "fc0", "op": "Linear", "metric": "median",
        "unit": "s",
    }
    points = body["points"]
    assert [(p["run"], p["commit"], p["t"]) for p in points] == [
        (early, "aaa", "2025-03-01T08:00:00Z"), (middle, "bbb", "2025-03-02T08:00:00Z"),
        (late, "ccc", "2025-03-03T08:00:00Z"),
    ]
    stored = {m.run_id: m for m in LayerMeasurement.objects.filter(name="fc0")}
    for point in points:
        layer = stored[point["run"]]
        assert (point["value"], point["p25"], point["p75"]) == (layer.median, layer.p25, layer.p75)
        assert point["model_version"] == layer.run.model_version and point["config_hash"] == layer.run.config_hash
    assert points[2]["value"] == pytest.approx(points[0]["value"] * 1.5)


@pytest.mark.parametrize("metric", ["min", "gflops", "gbs", "flops", "bytes", "ai"])
def test_it_returns_the_asked_metric_of_a_layer(client, upload, metric):
    report = make_report(started_at="2025-03-01T08:00:00+00:00")
    assert upload(report).status_code == 201
    body = client.get(f"{SERIES_URL}m1/{_benchmark_id()}/relu0/?metric={metric}").json()
    [point] = body["points"]
    layer = report["layers"][1]
    expected = layer["time"]["min"] if metric == "min" else layer[metric]
    assert point["value"] == pytest.approx(expected)
    assert body["series"]["metric"] == metric
    assert ("p25" in point) == (metric == "min")


def test_it_returns_the_end_to_end_series_from_the_runs(client, upload):
    reports = [make_report(started_at=f"2025-03-0{day}T08:00:00+00:00", time_scale=day) for day in (2, 1)]
    ids = [upload(r).json()["id"] for r in reports]
    body = client.get(f"{SERIES_URL}m1/{_benchmark_id()}/end_to_end/?metric=min").json()
    assert body["series"]["layer"] == "end_to_end" and body["series"]["op"] == ""
    assert [p["run"] for p in body["points"]] == ids[::-1]
    assert [p["value"] for p in body["points"]] == [reports[1]["end_to_end"]["min"], reports[0]["end_to_end"]["min"]]
    assert body["points"][0]["p75"] == reports[1]["end_to_end"]["p75"]


def test_it_limits_the_points_to_a_time_range_and_keeps_the_newest(client, upload):
    runs = [_store(upload, day) for day in range(1, 8)]
    url = f"{SERIES_URL}m1/{_benchmark_id()}/fc1/"

    def run_ids(query):
        return [p["run"] for p in client.get(f"{url}?{query}").json()["points"]]

    assert run_ids("since=2025-03-03&until=2025-03-05T08:00:00Z") == runs[2:4]
    assert run_ids("since=2025-03-06T08:00:00%2B00:00") == runs[5:]
    assert run_ids("limit=2") == runs[5:]
    assert run_ids("until=2025-03-04&limit=2") == runs[1:3]
    assert run_ids("since=2026-01-01") == []
    # The daily points' range ends past the last day a date holds: no point, not an overflow.
    assert run_ids("since=9999-12-31T12:00:00Z") == [] and run_ids("until=9999-12-31T12:00:00Z") == runs


def test_it_accepts_layer_names_with_dots_and_slashes(client, upload):
    report = make_report(started_at="2025-03-01T08:00:00+00:00", layers=2)
    report["layers"][0]["name"] = "encoder/block.0/attn.qkv"
    report["layers"][0]["sources"] = ["encoder/block.0/attn.qkv"]
    assert upload(report).status_code == 201, upload(report).content
    listed = client.get(SERIES_URL).json()["results"][1]
    assert listed["layer"] == "encoder/block.0/attn.qkv"
    body = client.get(listed["url"] + "?metric=flops").json()
    assert body["series"]["layer"] == "encoder/block.0/attn.qkv"
    assert [p["value"] for p in body["points"]] == [report["layers"][0]["flops"]]


def test_it_answers_404_naming_the_unknown_machine_benchmark_or_layer(client, upload):
    _store(upload, 1)
    bench = _benchmark_id()
    cases = {
        f"{SERIES_URL}nobody/{bench}/fc0/": "No machine named 'nobody'.",
        f"{SERIES_URL}m1/{bench + 99}/fc0/": f"No benchmark with id {bench + 99}.",
        f"{SERIES_URL}m1/{bench}/fc9/": f"No layer 'fc9' in benchmark {bench} (mlp(batch_size=64)) on machine 'm1'",
    }
    for url, message in cases.items():
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.json()["detail"].startswith(message)


def test_it_answers_404_for_end_to_end_of_a_benchmark_never_run_on_the_machine(client, upload, db):
    _store(upload, 1)
    Machine.objects.create(name="idle")
    response = client.get(f"{SERIES_URL}idle/{_benchmark_id()}/end_to_end/")
    assert response.status_code == 404
    expected = f"No runs of benchmark {_benchmark_id()} (mlp(batch_size=64)) on machine 'idle'."
    assert response.json()["detail"] == expected


def test_it_rejects_an_unknown_metric_listing_the_metrics(client, upload):
    _store(upload, 1)
    response = client.get(f"{SERIES_URL}m1/{_benchmark_id()}/fc0/?metric=speed")
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "metric": ["Unknown metric 'speed'; expected one of median, min, gflops, gbs, flops, bytes, ai."]
    }


def test_it_rejects_a_per_layer_metric_for_end_to_end(client, upload):
    _store(upload, 1)
    response = client.get(f"{SERIES_URL}m1/{_benchmark_id()}/end_to_end/?metric=gflops")
    assert response.status_code == 400
    assert response.json()["errors"]["metric"] == ["Metric 'gflops' is per layer; end_to_end has median, min."]


@pytest.mark.parametrize(
    "query, name",
    [("since=yesterday", "since"), ("until=2025-13-01", "until"), ("limit=0", "limit"), ("limit=50001", "limit")],
)
def test_it_rejects_bad_range_parameters_naming_them(client, upload, query, name):
    _store(upload, 1)
    response = client.get(f"{SERIES_URL}m1/{_benchmark_id()}/fc0/?{query}")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [name]


def test_it_reads_a_long_series_in_a_fixed_number_of_queries(client, upload, django_assert_max_num_queries):
    for day in range(1, 13):
        _store(upload, day, layers=2)
    bench = _benchmark_id()
    with django_assert_max_num_queries(4):  # machine and benchmark, points, their runs, the layer's op
        body = client.get(f"{SERIES_URL}m1/{bench}/relu0/?metric=gbs").json()
    assert len(body["points"]) == 12


def test_it_answers_404_for_a_benchmark_id_beyond_any_integer_column(client, upload):
    _store(upload, 1)
    huge = 10**25
    response = client.get(f"{SERIES_URL}m1/{huge}/fc0/")
    assert response.status_code == 404
    assert response.json()["detail"] == f"No benchmark with id {huge}."


def test_it_rejects_a_benchmark_filter_beyond_any_id(client, db):
    response = client.get(f"{SERIES_URL}?benchmark={2**63}")
    assert response.status_code == 400
    assert response.json()["errors"]["benchmark"] == [
        f"Expected a whole number from 1 to {2**63 - 1}; got '{2**63}'."
    ]


def test_it_lists_each_param_set_of_a_model_as_its_own_series(client, upload):
    assert upload(make_report(layers=1, batch=8)).status_code == 201
    assert upload(make_report(layers=1, batch=64)).status_code == 201
    assert upload(make_report(layers=1, batch=64)).status_code == 201
    small, large = (Benchmark.objects.get(params={"batch_size": b}).pk for b in (8, 64))
    rows = [(s["benchmark"], s["layer"], s["points"]) for s in client.get(SERIES_URL).json()["results"]]
    expected = [(small, "end_to_end", 1), (small, "fc0", 1), (large, "end_to_end", 2), (large, "fc0", 2)]
    assert sorted(rows) == sorted(expected)
