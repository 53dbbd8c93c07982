"""GET /api/v1/runs/?started_after=&started_before= keeps the runs with
started_after <= started_at < started_before; a bad date is a 400 naming the parameter."""
import pytest

from tests.report_factory import make_report


@pytest.fixture
def runs_by_day(upload) -> dict[int, int]:
    ids = {}
    for day in (1, 2, 3, 4):
        response = upload(make_report(started_at=f"2025-05-0{day}T12:00:00+00:00"))
        assert response.status_code == 201
        ids[day] = response.json()["id"]
    return ids


def _ids(client, query: str) -> list[int]:
    response = client.get(f"/api/v1/runs/?{query}")
    assert response.status_code == 200, response.content
    return [r["id"] for r in response.json()["results"]]


def test_it_keeps_runs_started_within_the_range_newest_first(client, runs_by_day):
    assert _ids(client, "started_after=2025-05-02&started_before=2025-05-04") == [runs_by_day[3], runs_by_day[2]]


def test_it_includes_the_lower_bound_and_excludes_the_upper(client, runs_by_day):
    assert _ids(client, "started_after=2025-05-02T12:00:00Z") == [runs_by_day[4], runs_by_day[3], runs_by_day[2]]
    assert _ids(client, "started_before=2025-05-02T12:00:00Z") == [runs_by_day[1]]


def test_it_reads_offsets_and_an_unencoded_plus(client, runs_by_day):
    # 14:00+02:00 is 12:00 UTC; a '+' sent unencoded arrives as a space and still counts as the offset.
    assert _ids(client, "started_after=2025-05-03T14:00:00%2B02:00") == [runs_by_day[4], runs_by_day[3]]
    assert _ids(client, "started_after=2025-05-03T14:00:00+02:00") == [runs_by_day[4], runs_by_day[3]]


def test_it_combines_dates_with_the_other_filters(client, upload, runs_by_day):
    dev = upload(make_report(branch="dev", started_at="2025-05-03T18:00:00+00:00")).json()["id"]
    assert _ids(client, "branch=dev&started_after=2025-05-03") == [dev]
    assert _ids(client, "branch=main&started_after=2025-05-03") == [runs_by_day[4], runs_by_day[3]]


@pytest.mark.parametrize("name", ["started_after", "started_before"])
@pytest.mark.parametrize("value", ["yesterday", "2025-02-30", "2025-05-01T25:00:00Z", "1714000000"])
def test_it_rejects_a_bad_date_naming_the_parameter(client, db, name, value):
    response = client.get(f"/api/v1/runs/?{name}={value}")
    assert response.status_code == 400
    body = response.json()
    assert list(body["errors"]) == [name]
    assert body["errors"][name][0].startswith("Expected an ISO 8601 date or datetime")
    assert repr(value) in body["detail"]


@pytest.mark.parametrize("value, runs", [("9999-12-31T23:59:59-01:00", 1), ("0001-01-01T00:00:00%2B01:00", 0)])
def test_a_moment_outside_the_calendar_in_utc_bounds_the_range_at_its_end(client, upload, value, runs):
    """Valid RFC 3339 that falls after 9999 or before year 1 in UTC: all runs
    start before it, or none does (a 400 would refuse what the schema allows)."""
    assert upload(make_report()).status_code == 201
    response = client.get(f"/api/v1/runs/?started_before={value}")
    assert response.status_code == 200, response.content
    assert response.json()["count"] == runs
