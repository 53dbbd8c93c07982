"""The series page of a benchmark that ran in several environments (asv's env_name):
pick one, or overlay them all, one line per machine and environment."""
from __future__ import annotations

import pytest

from benchmarks.asv_history import write_history
from results.asv_import import import_asv_results
from results.models import Benchmark

pytestmark = pytest.mark.django_db
ENVIRONMENTS = ["virtualenv-py3.10", "virtualenv-py3.11"]


@pytest.fixture
def imported(tmp_path) -> Benchmark:
    import_asv_results(write_history(tmp_path, 16, 10), detect=False)
    return Benchmark.objects.get(model="bench_gen.time_plain_001", environment=ENVIRONMENTS[1])


def test_the_page_offers_each_environment_and_the_overlay(client, imported):
    html = client.get("/series/", {"benchmark": imported.pk}).content.decode()
    other = Benchmark.objects.get(model=imported.model, environment=ENVIRONMENTS[0])
    assert f'<option value="{other.pk}">{ENVIRONMENTS[0]}</option>' in html
    assert f'<option value="{imported.pk}" selected>{ENVIRONMENTS[1]}</option>' in html
    assert 'name="overlay" value="environments"' in html and "environment <b>virtualenv-py3.11</b>" in html


def test_one_environment_draws_its_own_series_only(client, imported):
    body = client.get("/dash-api/series/", {"benchmark": imported.pk}).json()
    assert [m["name"] for m in body["machines"]] == ["machine-0", "machine-1"]
    assert body["series"]["environment"] == ENVIRONMENTS[1]
    commits = {p["commit"] for m in body["machines"] for p in m["points"]}
    assert len(commits) == 4  # this environment's 4 commits, not the other's points interleaved


def test_the_overlay_draws_a_line_per_machine_and_environment(client, imported):
    body = client.get("/dash-api/series/", {"benchmark": imported.pk, "overlay": "environments"}).json()
    assert [m["name"] for m in body["machines"]] == [f"machine-{m} · {e}" for m in (0, 1) for e in ENVIRONMENTS]
    assert body["series"]["environment"] == ENVIRONMENTS[1]


def test_a_benchmark_in_one_environment_offers_no_picker(client, imported):
    lone = Benchmark.objects.create(project=imported.project, model="lone", params={}, params_hash="x")
    html = client.get("/series/", {"benchmark": lone.pk}).content.decode()
    assert 'name="overlay"' not in html
