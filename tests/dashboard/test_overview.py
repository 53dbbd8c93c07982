"""The overview: open alert summaries, fleet health, latest runs per benchmark."""
import pytest

from regressions.models import INVALID

from .helpers import table_rows
from .seed import MACHINES


def test_it_lists_the_open_summary_with_its_badge_magnitude_and_cause(client, seeded):
    html = client.get("/").content.decode()
    (row,) = table_rows(html, "summaries")
    summary, status, change, where, cause, _found = row["cells"]
    assert row["attrs"]["data-summary"] == str(seeded.summary.pk)
    assert summary.startswith(f"#{seeded.summary.pk} mlp(batch_size=64)")
    assert status == "untriaged compute-bound"
    assert change.startswith("+") and "end_to_end" in change
    assert where == MACHINES[0]
    assert cause == "c11→c12"  # last good → first bad
    assert f'href="/alerts/{seeded.summary.pk}/"' in html


def test_a_triaged_summary_leaves_the_overview(client, seeded):
    seeded.summary.status = INVALID
    seeded.summary.save()
    html = client.get("/").content.decode()
    assert table_rows(html, "summaries") == []
    assert "No open alerts" in html


def test_fleet_health_shows_each_machine_with_its_state(client, seeded):
    html = client.get("/").content.decode()
    assert [m in html for m in MACHINES] == [True, True]
    assert html.count('class="state state-ok"') == len(MACHINES)


def test_each_benchmark_gets_a_sparkline_that_loads_from_the_dash_api(client, seeded):
    html = client.get("/").content.decode()
    assert f'<canvas class="spark" id="spark-{seeded.benchmark_id}"' in html
    assert 'data-sparklines-url="/dash-api/sparklines/"' in html
    assert 'id="spark-data"' not in html  # no embedded chart data
    assert f'href="/series/?benchmark={seeded.benchmark_id}"' in html


def test_the_sparklines_hold_a_line_per_machine_of_its_recent_medians(client, seeded):
    body = client.get("/dash-api/sparklines/").json()
    assert body["runs"] == 30
    (spark,) = body["benchmarks"]
    assert spark["benchmark"] == seeded.benchmark_id
    assert sorted(m["name"] for m in spark["machines"]) == sorted(MACHINES)
    for line in spark["machines"]:
        runs = seeded.runs[line["name"]]  # oldest first, as the line
        assert line["medians_ms"] == pytest.approx([run.median * 1e3 for run in runs])


def test_the_sparklines_keep_the_newest_runs_asked_for(client, seeded):
    body = client.get("/dash-api/sparklines/?runs=5").json()
    assert body["runs"] == 5
    for line in body["benchmarks"][0]["machines"]:
        assert line["medians_ms"] == pytest.approx([run.median * 1e3 for run in seeded.runs[line["name"]][-5:]])


@pytest.mark.parametrize("runs", ["1", "201", "ten", "-3"])
def test_a_bad_runs_count_is_400_naming_it(client, db, runs):
    response = client.get(f"/dash-api/sparklines/?runs={runs}")
    assert response.status_code == 400 and list(response.json()["errors"]) == ["runs"]


def test_an_empty_platform_has_no_sparklines(client, db):
    assert client.get("/dash-api/sparklines/").json() == {"runs": 30, "benchmarks": []}


def test_an_empty_platform_says_what_to_do(client, db):
    html = client.get("/").content.decode()
    assert "No open alerts" in html and "No runs yet" in html and "No machines" in html


def test_the_overview_runs_a_bounded_number_of_queries(client, seeded, django_assert_max_num_queries):
    # summaries (+3 prefetches), fleet, the series catalogue, the latest run of each benchmark
    with django_assert_max_num_queries(4 + 1 + 1 + 1):
        client.get("/")


def test_the_sparklines_run_one_query_per_line(client, seeded, django_assert_num_queries):
    # the series catalogue, then one recent-runs query per machine and benchmark
    with django_assert_num_queries(1 + len(MACHINES)):
        client.get("/dash-api/sparklines/")


def test_fleet_health_shows_what_the_agent_reported_of_its_spool(client, db):
    from fleet.models import Machine

    Machine.objects.create(name="box-9", agent_status={"pending": 4, "rejected": 2, "last_error": "refused",
                                                         "last_error_at": "2026-11-23T10:00:00+00:00"})
    page = client.get("/").content.decode()
    assert "4 · 2 rejected" in page and "refused" in page
