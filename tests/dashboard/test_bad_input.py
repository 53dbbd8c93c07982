"""Every path and query parameter of the pages and of /dash-api/ takes any
value without a 5xx: bad ones get a 4xx (or the page's default), never an
exception. NUL, which PostgreSQL refuses even in a query, gets a 400 naming the
parameter (404 in a path) before any view runs (core.middleware)."""
from urllib.parse import quote, urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .seed import MACHINES

NASTY = ["\x00", "a\x00b", "%00", "-1", "0", "1", "9" * 30, str(2**63), "1e3", "NaN", "2025-02-30",
         "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00", "٣", "é" * 300, "x" * 5000, " ", "",
         "end_to_end", "fc1", "median", "gflops", MACHINES[0], "' OR 1=1 --"]
VALUES = st.one_of(st.sampled_from(NASTY), st.text(max_size=20))
PAGES = {
    "/": [], "/runs/": ["page"], "/series/": ["benchmark", "layer", "metric", "max_points"],
    "/compare/": ["before", "after"], "/alerts/": ["status", "page"], "/machines/": [],
    "/accounts/login/": ["next"], "/healthz": [],
    "/dash-api/series/": ["benchmark", "layer", "metric", "since", "until", "max_points", "machine", "limit"],
    "/dash-api/compare/": ["before", "after"], "/dash-api/sparklines/": ["runs"],
}
PATHS = ["/runs/{}/", "/alerts/{}/", "/machines/{}/"]
FUZZ = settings(max_examples=150, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@FUZZ
@given(page=st.sampled_from(sorted(PAGES)), data=st.data())
def test_query_parameters_of_pages_and_page_data_never_get_a_server_error(client, seeded, page, data):
    names = PAGES[page]
    params = data.draw(st.dictionaries(st.sampled_from(names), VALUES, max_size=len(names))) if names else {}
    if page in ("/series/", "/dash-api/series/") and data.draw(st.booleans()):
        params.setdefault("benchmark", str(seeded.benchmark_id))  # get past the benchmark to the other checks
    response = client.get(f"{page}?{urlencode(params)}")
    assert response.status_code in (200, 302, 400, 404), (page, params, response.status_code)


@FUZZ
@given(template=st.sampled_from(PATHS), value=VALUES)
def test_names_and_ids_in_page_paths_never_get_a_server_error(client, seeded, template, value):
    response = client.get(template.format(quote(value, safe="")))
    assert response.status_code in (200, 301, 404), (template, value, response.status_code)


def test_a_nul_in_a_page_path_is_a_404_that_says_why(client, db):
    response = client.get("/machines/box%00/")
    assert response.status_code == 404 and "NUL" in response.json()["detail"]
