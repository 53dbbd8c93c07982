"""GET /api/v1/projects/ and /api/v1/benchmarks/ (filtered by project and model)."""
from results.models import Benchmark, Project
from tests.report_factory import make_report

OTHER_REPO = "https://github.com/example/other-models"


def _seed(upload):
    for kwargs in (
        {"model": "mlp"},
        {"model": "mlp", "batch": 8},
        {"model": "dlrm"},
        {"model": "mlp", "source": {"repository": OTHER_REPO}},
    ):
        assert upload(make_report(**kwargs)).status_code == 201


def test_it_lists_projects_by_name(client, upload):
    _seed(upload)
    body = client.get("/api/v1/projects/").json()
    assert [(p["name"], p["repository_url"]) for p in body["results"]] == [
        ("example/other-models", OTHER_REPO),
        ("example/roofwatch-models", "https://github.com/example/roofwatch-models"),
    ]
    one = body["results"][0]
    assert client.get(f"/api/v1/projects/{one['id']}/").json() == one


def test_it_lists_benchmarks_with_their_params(client, upload):
    _seed(upload)
    body = client.get("/api/v1/benchmarks/").json()
    assert body["count"] == 4
    assert [(b["model"], b["params"]) for b in body["results"]] == [
        ("dlrm", {"batch_size": 64}), ("mlp", {"batch_size": 64}), ("mlp", {"batch_size": 8}),
        ("mlp", {"batch_size": 64}),
    ]
    assert body["results"][2]["label"] == "mlp(batch_size=8)"
    assert body["results"][2]["project"] == "example/roofwatch-models"


def test_it_filters_benchmarks_by_project_and_model(client, upload):
    _seed(upload)

    def keys(query):
        return sorted((b["project"], b["model"], b["params"]["batch_size"])
                      for b in client.get(f"/api/v1/benchmarks/?{query}").json()["results"])

    assert keys("model=dlrm") == [("example/roofwatch-models", "dlrm", 64)]
    assert keys("project=example/other-models") == [("example/other-models", "mlp", 64)]
    assert keys("project=example/roofwatch-models&model=mlp") == [
        ("example/roofwatch-models", "mlp", 8), ("example/roofwatch-models", "mlp", 64),
    ]
    assert keys("model=nothing") == []


def test_it_returns_one_benchmark_by_id(client, db):
    project = Project.objects.create(name="p", repository_url="https://example.com/p")
    bench = Benchmark.objects.create(project=project, model="din", params={"seq_len": 50}, params_hash="x" * 64)
    body = client.get(f"/api/v1/benchmarks/{bench.pk}/").json()
    assert body == {
        "id": bench.pk, "project": "p", "model": "din", "params": {"seq_len": 50}, "params_hash": "x" * 64,
        "environment": "", "label": "din(seq_len=50)",
    }
    assert client.get(f"/api/v1/benchmarks/{bench.pk + 1}/").status_code == 404


def test_a_benchmark_with_an_environment_names_it_and_filters_by_it(client, db):
    project = Project.objects.create(name="p", repository_url="https://example.com/p")
    for environment in ("virtualenv-py3.11", "virtualenv-py3.12"):
        Benchmark.objects.create(project=project, model="time_x", params={}, params_hash="x" * 64,
                                 environment=environment)
    body = client.get("/api/v1/benchmarks/", {"environment": "virtualenv-py3.12"}).json()
    (item,) = body["results"]
    assert item["environment"] == "virtualenv-py3.12" and item["label"] == "time_x [virtualenv-py3.12]"
