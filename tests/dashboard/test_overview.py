"""The overview: open alert summaries, fleet health, latest runs per benchmark."""
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


def test_each_benchmark_gets_a_sparkline_line_per_machine(client, seeded):
    response = client.get("/")
    sparks = response.context["sparks"]
    (lines,) = sparks.values()
    assert len(lines) == len(MACHINES) and all(len(line) == 18 for line in lines)
    assert f'href="/series/?benchmark={seeded.benchmark_id}"' in response.content.decode()


def test_an_empty_platform_says_what_to_do(client, db):
    html = client.get("/").content.decode()
    assert "No open alerts" in html and "No runs yet" in html and "No machines" in html


def test_the_overview_runs_a_bounded_number_of_queries(client, seeded, django_assert_max_num_queries):
    # summaries (+3 prefetches), fleet, the series catalogue, one recent-runs query per machine and benchmark
    with django_assert_max_num_queries(4 + 1 + 1 + len(MACHINES)):
        client.get("/")


def test_fleet_health_shows_what_the_agent_reported_of_its_spool(client, db):
    from fleet.models import Machine

    Machine.objects.create(name="box-9", agent_status={"pending": 4, "rejected": 2, "last_error": "refused",
                                                         "last_error_at": "2026-11-23T10:00:00+00:00"})
    page = client.get("/").content.decode()
    assert "4 · 2 rejected" in page and "refused" in page
