from datetime import datetime, timedelta, timezone

import pytest
from django.urls import reverse

from dashboard.views import RUNS_PER_PAGE

from .conftest import DLRM_LAYERS, make_benchmark, make_machine, make_run
from .helpers import table_rows

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)


def test_the_list_lives_under_runs_and_the_overview_is_the_site_root(db):
    assert reverse("dashboard:run-list") == "/runs/"
    assert reverse("dashboard:overview") == "/"


def test_it_lists_runs_newest_first_with_a_link_to_each(client, machine, benchmark):
    older = make_run(machine, benchmark, started_at=T0, commit="aaaaaaaaaaaa1111")
    newer = make_run(machine, benchmark, started_at=T0 + timedelta(hours=1), commit="bbbbbbbbbbbb2222")

    html = client.get("/runs/").content.decode()
    rows = table_rows(html, "runs")

    assert [row["attrs"]["data-run"] for row in rows] == [str(newer.id), str(older.id)]
    assert f'href="/runs/{newer.id}/"' in html and f'href="/runs/{older.id}/"' in html


def test_each_row_shows_benchmark_machine_commit_branch_time_and_layer_count(client, machine, benchmark):
    run = make_run(machine, benchmark, branch="perf/fuse-emb")

    (row,) = table_rows(client.get("/runs/").content.decode(), "runs")
    benchmark_cell, machine_cell, commit_cell, branch_cell, _started, e2e_cell, layers_cell, _ = row["cells"]

    assert benchmark_cell.startswith("dlrm_criteo_kaggle")
    assert machine_cell == "epyc-01"
    assert commit_cell == "3f9c2e1d8b"
    assert branch_cell == "perf/fuse-emb"
    assert e2e_cell.startswith(f"{run.median * 1e3:.3g} ")
    assert layers_cell == str(len(DLRM_LAYERS))


def test_it_says_so_when_there_are_no_runs(client, db):
    html = client.get("/runs/").content.decode()
    assert "No runs yet" in html


def test_it_pages_long_lists(client, machine):
    benchmark = make_benchmark("mlp")
    layers = DLRM_LAYERS[:1]
    for i in range(RUNS_PER_PAGE + 2):
        make_run(machine, benchmark, layers=layers, started_at=T0 + timedelta(minutes=i))

    first = table_rows(client.get("/runs/").content.decode(), "runs")
    second_html = client.get("/runs/?page=2").content.decode()

    assert len(first) == RUNS_PER_PAGE
    assert len(table_rows(second_html, "runs")) == 2
    assert "← Newer" in second_html


def test_the_list_runs_a_fixed_number_of_queries(client, django_assert_max_num_queries):
    for name in ("a", "b", "c"):
        make_run(make_machine(name), make_benchmark(f"model-{name}"))
    with django_assert_max_num_queries(3):
        client.get("/runs/")
