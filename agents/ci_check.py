"""`roofwatch-agent ci-check`: gate a CI pipeline on the regressions of one commit.

Waits (at most --wait seconds, polling) until the platform has runs of the
commit, no commit job of it is still queued or claimed, and the run count has
not changed for --settle seconds (detection runs on each ingest, in seconds);
then lists the untriaged alert summaries whose first bad commit is this one
and prints their regressions.

Exit status: 0 clean; 1 untriaged regressions of at least --threshold percent;
2 could not tell (no runs of the commit in time, jobs still pending, server
unreachable or refusing the token).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TextIO

import requests

EXIT_CLEAN, EXIT_REGRESSED, EXIT_UNKNOWN = 0, 1, 2
PENDING_JOB_STATUSES = ("queued", "claimed")
MAX_PAGES = 20  # 20 pages of 1000: summaries further back than that are not this commit's
PAGE = 1000


class CheckFailed(Exception):
    """The server could not be asked (unreachable, refused, answered nonsense)."""


@dataclass(frozen=True)
class Regression:
    summary: int
    url: str
    benchmark: str
    layer: str
    machine: str
    rel_change: float
    classification: str


class Api:
    def __init__(self, server: str, token: str | None, timeout: float = 30,
                 session: requests.Session | None = None) -> None:
        self.base = server.rstrip("/")
        self.session = session or requests.Session()
        self.session.headers["Accept"] = "application/json"
        if token:
            self.session.headers["Authorization"] = f"Token {token}"
        self.timeout = timeout

    def get(self, path_or_url: str, params: dict | None = None):
        url = path_or_url if path_or_url.startswith("http") else self.base + path_or_url
        try:
            response = self.session.get(url, params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise CheckFailed(f"{self.base} unreachable: {exc}") from None
        if response.status_code in (401, 403):
            raise CheckFailed(f"{url}: HTTP {response.status_code}: {response.text[:300]} (check --token)")
        if response.status_code != 200:
            raise CheckFailed(f"{url}: HTTP {response.status_code}: {response.text[:300]}")
        try:
            return response.json()
        except ValueError:
            raise CheckFailed(f"{url}: the answer is not JSON (is --server the roofwatch platform?)") from None

    def pages(self, path: str, params: dict) -> Iterator[dict]:
        page, url, params = 0, path, {**params, "limit": PAGE}
        while url and page < MAX_PAGES:
            body = self.get(url, params)
            yield from body.get("results", [])
            url, params, page = body.get("next"), None, page + 1


def same_commit(a: str | None, b: str) -> bool:
    """Equal, or one a prefix (of at least 7 digits) of the other: CI may give a short SHA."""
    if not a:
        return False
    a, b = a.lower(), b.lower()
    return a == b or (min(len(a), len(b)) >= 7 and (a.startswith(b) or b.startswith(a)))


def count_runs(api: Api, commit: str) -> int:
    return api.get("/api/v1/runs/", {"commit": commit, "limit": 1}).get("count", 0)


def pending_jobs(api: Api, commit: str) -> int:
    return sum(1 for status in PENDING_JOB_STATUSES
               for job in api.pages("/api/v1/jobs/", {"kind": "commit", "status": status})
               if same_commit(job.get("commit"), commit))


def regressions(api: Api, commit: str, threshold_pct: float) -> list[Regression]:
    """The live regressions of at least `threshold_pct` percent in untriaged summaries caused by `commit`."""
    found = []
    # ?commit= narrows the list where the server filters on it; an older server ignores it, hence the check below.
    for summary in api.pages("/api/v1/alerts/summaries/", {"status": "untriaged", "commit": commit}):
        commits = (summary.get("attribution") or {}).get("commits") or {}
        if not same_commit(commits.get("first_bad"), commit):
            continue
        detail = api.get(f"/api/v1/alerts/summaries/{summary['id']}/")
        for alert in detail.get("alerts", []):
            if (alert.get("direction") == "regression" and alert.get("status") == "untriaged"
                    and not alert.get("vanished_at") and alert["rel_change"] * 100 >= threshold_pct):
                found.append(Regression(summary["id"], f"{api.base}/alerts/{summary['id']}/", alert["benchmark_name"],
                                        alert["layer"], alert["machine"], alert["rel_change"],
                                        alert.get("classification") or ""))
    return sorted(found, key=lambda r: -r.rel_change)


def table(rows: list[Regression]) -> str:
    head = ("summary", "change", "bound", "benchmark", "layer", "machine")
    cells = [(str(r.summary), f"{r.rel_change:+.1%}", r.classification or "-", r.benchmark, r.layer, r.machine)
             for r in rows]
    widths = [max(len(c[i]) for c in [head, *cells]) for i in range(len(head))]
    return "\n".join("  ".join(c[i].ljust(widths[i]) for i in range(len(head))).rstrip() for c in [head, *cells])


def check(api: Api, commit: str, *, wait: float, threshold_pct: float, poll: float, settle: float, out: TextIO,
          err: TextIO, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> int:
    deadline = clock() + wait
    runs, pending, stable_since, last_error = 0, 0, clock(), None
    while True:
        try:
            seen, pending = count_runs(api, commit), pending_jobs(api, commit)
            last_error = None
            if seen != runs:
                runs, stable_since = seen, clock()
            if runs and not pending and clock() - stable_since >= settle:
                break
        except CheckFailed as exc:
            if "HTTP 401" in str(exc) or "HTTP 403" in str(exc):
                print(f"ci-check: {exc}", file=err)
                return EXIT_UNKNOWN
            last_error = exc
        if clock() >= deadline:
            break
        sleep(max(0.0, min(poll, deadline - clock())))
    if last_error is not None:
        print(f"ci-check: could not tell: {last_error}", file=err)
        return EXIT_UNKNOWN
    if runs == 0:
        print(f"ci-check: could not tell: no runs of commit {commit} after {wait:g} s", file=err)
        return EXIT_UNKNOWN
    try:
        found = regressions(api, commit, threshold_pct)
    except CheckFailed as exc:
        print(f"ci-check: could not tell: {exc}", file=err)
        return EXIT_UNKNOWN
    if found:
        print(f"commit {commit}: {len(found)} untriaged regression(s) of at least {threshold_pct:g}% "
              f"in {runs} run(s)", file=out)
        print(table(found), file=out)
        for url in dict.fromkeys(r.url for r in found):
            print(f"see {url}", file=out)
        return EXIT_REGRESSED
    if pending:
        print(f"ci-check: could not tell: {pending} job(s) of commit {commit} still pending after {wait:g} s "
              f"({runs} run(s) in, no regression among them)", file=err)
        return EXIT_UNKNOWN
    print(f"commit {commit}: clean ({runs} run(s), no untriaged regression of at least {threshold_pct:g}%)", file=out)
    return EXIT_CLEAN
