import html as html_lib
import re
from html.parser import HTMLParser

_DATA_URL = re.compile(r'<canvas id="(?P<id>[^"]+)"[^>]*?\sdata-url="(?P<url>[^"]+)"')


def chart_url(html: str, canvas_id: str) -> str:
    """The URL the chart on <canvas id=canvas_id> loads its data from (its data-url)."""
    urls = {m["id"]: html_lib.unescape(m["url"]) for m in _DATA_URL.finditer(html)}
    assert canvas_id in urls, f"the page has no <canvas id={canvas_id!r} data-url=...> element"
    return urls[canvas_id]


class _TableRows(HTMLParser):
    """Collects the text of each cell of each <tr data-...> row of one table."""

    def __init__(self, table_id: str):
        super().__init__()
        self.table_id = table_id
        self.in_table = False
        self.rows: list[dict] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id") == self.table_id:
            self.in_table = True
        elif self.in_table and tag == "tr" and any(k.startswith("data-") for k in attrs):
            self.rows.append({"attrs": attrs, "cells": []})
        elif self.in_table and tag == "td" and self.rows:
            self.cell = []

    def handle_endtag(self, tag):
        if tag == "table":
            self.in_table = False
        elif tag == "td" and self.cell is not None:
            self.rows[-1]["cells"].append(" ".join("".join(self.cell).split()))
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def table_rows(html: str, table_id: str) -> list[dict]:
    """[{"attrs": {...}, "cells": ["text", ...]}, ...] for the body rows of <table id=table_id>."""
    parser = _TableRows(table_id)
    parser.feed(html)
    return parser.rows
