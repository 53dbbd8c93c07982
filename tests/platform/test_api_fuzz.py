"""Fuzzing the API with hypothesis: mutated run reports (keys dropped, types
changed, NaN/inf/huge numbers, long and odd strings, nested garbage, broken
JSON) posted with a valid token never get a 5xx, and a 4xx writes no rows.
Query strings of the read API are fuzzed the same way.

Examples are bounded so the file runs in seconds; hypothesis keeps no example
database (database=None), so nothing is written outside the test run.
"""
from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from results.models import Run
from tests.report_factory import make_report

from .conftest import RUNS_URL, row_counts

FUZZ = settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
ODD_NUMBERS = [float("nan"), float("inf"), float("-inf"), 1e308, -1e308, 5e-324, -0.0, 2**63, -(2**63) - 1, 10**40]
ODD_STRINGS = ["", " ", "x" * 70_000, "\x00", "nul\x00in", "\ud800", "é" * 300, "𝔘𝔫𝔦", "<script>", "' OR 1=1 --"]
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(ODD_NUMBERS),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(ODD_STRINGS),
)
GARBAGE = st.recursive(
    LEAVES,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key/index path into the report, the root excluded."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    found = []
    for key, child in items:
        found.append(prefix + (key,))
        found.extend(_paths(child, prefix + (key,)))
    return found


def _parent(report: dict, path: tuple) -> Any:
    node = report
    for key in path[:-1]:
        node = node[key]
    return node


@st.composite
def mutated_reports(draw) -> dict | list | str | int | None:
    report = make_report(layers=draw(st.integers(min_value=0, max_value=3)))
    if draw(st.integers(min_value=0, max_value=19)) == 0:
        return draw(GARBAGE)  # not a report at all
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(report)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = _parent(report, path)
        action = draw(st.sampled_from(["drop", "replace", "replace", "add_key", "wrap"]))
        if action == "drop":
            del parent[path[-1]]
        elif action == "replace":
            parent[path[-1]] = draw(GARBAGE)
        elif action == "wrap":
            parent[path[-1]] = [parent[path[-1]]]
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=12))] = draw(GARBAGE)
    return report


def _assert_safe(response, before: dict[str, int]) -> None:
    event(f"HTTP {response.status_code}")  # the mix shows with --hypothesis-show-statistics
    assert response.status_code < 500, response.content[:2000]
    if 400 <= response.status_code < 500:
        assert row_counts() == before, f"a {response.status_code} wrote rows: {response.content[:500]!r}"
        assert "detail" in response.json()


@FUZZ
@given(report=mutated_reports())
def test_mutated_reports_never_get_a_server_error_and_refusals_write_nothing(client, token, report):
    before = row_counts()
    body = json.dumps(report, allow_nan=True)  # NaN/Infinity literals go over the wire as such
    response = client.post(RUNS_URL, body, content_type="application/json", HTTP_AUTHORIZATION=f"Token {token}")
    _assert_safe(response, before)


@FUZZ
@given(cut=st.integers(min_value=0), noise=st.binary(max_size=40), keep_head=st.booleans())
def test_broken_json_bodies_get_a_400_and_write_nothing(client, token, cut, noise, keep_head):
    body = json.dumps(make_report()).encode()
    head = body[: cut % len(body)]
    mangled = head + noise if keep_head else noise + body[len(head):]
    before = row_counts()
    response = client.post(RUNS_URL, mangled, content_type="application/json", HTTP_AUTHORIZATION=f"Token {token}")
    _assert_safe(response, before)


ODD_QUERY_VALUES = ["-1", "0", "9" * 30, str(2**63), "2025-02-30", "9999-12-31T23:59:59-01:00", "1e3", "%00"]
QUERY_VALUES = st.one_of(st.text(max_size=40), st.sampled_from(ODD_QUERY_VALUES))
READ_URLS = [
    "/api/v1/runs/", "/api/v1/series/", "/api/v1/series/m1/{benchmark}/fc0/",
    "/api/v1/series/m1/{benchmark}/end_to_end/",
    "/api/v1/benchmarks/", "/api/v1/machines/",
]
READ_PARAMS = [
    "machine", "model", "commit", "branch", "started_after", "started_before", "benchmark", "project", "metric",
    "since", "until", "limit", "offset",
]


@settings(FUZZ, max_examples=100)
@given(
    url=st.sampled_from(READ_URLS),
    params=st.dictionaries(st.sampled_from(READ_PARAMS), QUERY_VALUES, max_size=4),
)
def test_fuzzed_read_queries_never_get_a_server_error(client, upload, url, params):
    if not Run.objects.exists():
        assert upload(make_report()).status_code == 201
    response = client.get(url.format(benchmark=Run.objects.get().benchmark_id), params)
    assert response.status_code < 500, response.content[:2000]
    assert response.status_code in (200, 400, 404), response.content[:500]


@settings(FUZZ, max_examples=100)
@given(machine=st.text(min_size=1, max_size=30), layer=st.text(min_size=1, max_size=30), which=st.integers(0, 2))
def test_fuzzed_names_in_paths_never_get_a_server_error(client, upload, machine, layer, which):
    if not Run.objects.exists():
        assert upload(make_report()).status_code == 201
    benchmark = Run.objects.get().benchmark_id
    url = [
        f"/api/v1/machines/{quote(machine, safe='')}/",
        f"/api/v1/series/{quote(machine, safe='')}/{benchmark}/{quote(layer, safe='/')}/",
        f"/api/v1/series/m1/{benchmark}/{quote(layer, safe='/')}/",
    ][which]
    response = client.get(url)
    assert response.status_code in (200, 404), (url, response.content[:500])
