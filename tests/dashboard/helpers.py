import json
import re
from html.parser import HTMLParser

_LAYER_DATA = re.compile(r'<script id="layer-data" type="application/json">(.*?)</script>', re.S)


def layer_data(html: str) -> list[dict]:
    """The chart data a page embeds with json_script("layer-data")."""
    match = _LAYER_DATA.search(html)
    assert match, "the page has no <script id=\"layer-data\"> element"
    return json.loads(match.group(1))


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
