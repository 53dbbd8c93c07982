"""Every page is reachable from the overview in at most two clicks."""
import re

from django.urls import resolve

PAGES = {"overview", "alert-list", "alert-summary", "series", "run-page", "compare", "run-list", "machine-list",
         "machine-detail", "login"}
HREF = re.compile(r'href="(/[^"#]*)"')


def links(client, path):
    html = client.get(path).content.decode().replace("&amp;", "&")
    return {href for href in HREF.findall(html) if not href.startswith(("/static/", "/api/", "/admin/"))}


def test_every_page_is_two_clicks_from_the_overview(client, seeded):
    first = links(client, "/")
    second = set().union(*(links(client, path) for path in first))
    reached = {resolve(path.split("?")[0]).url_name for path in {"/"} | first | second}
    assert PAGES <= reached, f"not reached: {PAGES - reached}"
