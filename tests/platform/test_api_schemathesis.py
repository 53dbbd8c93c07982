"""The whole API fuzzed from its own OpenAPI schema (/api/schema/) with
schemathesis: no request, valid or not, gets a 5xx, and a refused write
stores nothing.

Every operation of the schema gets requests built from it, valid ones and ones
that break it (wrong types, missing fields, out-of-range values), with a share
of known trouble makers (NUL, huge numbers, impossible dates) in every string
and integer, sent as three callers: anonymous, a fleet machine (agent token)
and a signed-in user (session and CSRF token). Then stateful runs, as a machine
and as a user, chain operations through the links schemathesis infers from the
schema (a created or listed resource's id into its detail, update and
sub-resources), so the ids that exist get fuzzed too.

The requests go to the project's WSGI application, as gunicorn would pass
them, in this process (schemathesis's WSGI transport), with the database in
autocommit like a real server's (transactional_db). Not through Django's live
server: its test harness serves files of the working directory for every path
(MEDIA_URL is empty) and answers 500 itself to names the file system refuses.

Only the 5xx check runs: conformance of the answers to the schema (documented
status codes, nullable fields) is left for later.

Bounded and repeatable: a fixed number of examples per operation, derandomized
hypothesis, no example database. About 70 s on two cores.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

import pytest
import schemathesis
from django.apps import apps
from django.contrib.auth.models import User
from django.core.wsgi import get_wsgi_application
from django.db import connection
from django.middleware.csrf import get_token
from django.test import Client, RequestFactory
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from fleet.models import Machine
from tests.dashboard.seed import seed_regression
from tests.report_factory import make_report

from .job_fixtures import make_job

EXAMPLES = 25  # per operation, caller and generation mode
MIN_REQUESTS = 1000
FUZZ = settings(
    max_examples=EXAMPLES, derandomize=True, database=None, deadline=None, phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
STATEFUL = settings(FUZZ, max_examples=30, stateful_step_count=8)
STORED_APPS = {"auth", "fleet", "results", "regressions", "notify"}  # a refused write adds no row to these

# Values known to break servers, drawn for a share of the generated strings and
# integers wherever they go: path, query and body alike.
NASTY_STRINGS = ["\x00", "nul\x00in", "%00", r"\u0000", "9" * 30, "-1", "0", "1e999", "NaN", "2025-02-30",
                 "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00", "../../etc/passwd", "' OR 1=1 --",
                 "<script>", "\u202e", "é" * 300, "x" * 10_000, " ", ""]
NASTY_INTEGERS = [0, -1, 2**31, 2**63, -(2**63) - 1, 10**30]
CONFIG = {
    "dictionaries": {"nasty-strings": {"values": NASTY_STRINGS}, "nasty-integers": {"values": NASTY_INTEGERS}},
    "generation": {
        "with-security-parameters": False,  # the callers below choose the credentials
        "dictionaries": {"string": {"dictionary": "nasty-strings", "probability": 0.2},
                         "integer": {"dictionary": "nasty-integers", "probability": 0.2}},
    },
}


@dataclass
class Caller:
    name: str
    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)


def row_counts() -> tuple[int, ...]:
    """Rows of every table of STORED_APPS, in one query."""
    tables = [model._meta.db_table for model in apps.get_models() if model._meta.app_label in STORED_APPS]
    counts = ", ".join(f"(SELECT COUNT(*) FROM {connection.ops.quote_name(table)})" for table in tables)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {counts}")
        return tuple(cursor.fetchone())


@dataclass
class Tally:
    """Every request sent and what came back; the 5xx answers, and the refused
    writes that stored rows, in full."""

    requests: Counter = field(default_factory=Counter)  # by operation label
    statuses: Counter = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    partial_writes: list[str] = field(default_factory=list)

    def record(self, label: str, case, response, rows_before: tuple | None = None) -> None:
        self.requests[label] += 1
        self.statuses[response.status_code] += 1
        if response.status_code >= 500:
            self.server_errors.append(f"{label} -> {response.status_code}\n{case.as_curl_command()}\n"
                                      f"{response.text[:1000]}")
        elif rows_before is not None and 400 <= response.status_code < 500 and row_counts() != rows_before:
            self.partial_writes.append(f"{label} -> {response.status_code} stored rows\n{case.as_curl_command()}")

    def summary(self) -> str:
        return (f"{sum(self.requests.values())} requests over {len(self.requests)} operations; "
                f"statuses {dict(sorted(self.statuses.items()))}")


@pytest.fixture
def callers(transactional_db) -> dict[str, Caller]:
    """Something of everything to find: runs, series and an alert summary
    (seed_regression), machine m1 with a run and queued jobs, a user."""
    seed_regression()
    machine = Machine.objects.create(name="m1")
    token = machine.rotate_token()
    client = Client()
    response = client.post("/api/v1/runs/", json.dumps(make_report()), content_type="application/json",
                           HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 201, response.content
    for _ in range(3):
        make_job(machine)
    client.force_login(User.objects.create_user("fuzzer"))
    csrf = get_token(RequestFactory().get("/"))
    return {
        "anonymous": Caller("anonymous"),
        "machine": Caller("machine", headers={"Authorization": f"Token {token}"}),
        "user": Caller("user", headers={"X-CSRFToken": csrf},
                       cookies={"sessionid": client.cookies["sessionid"].value, "csrftoken": csrf}),
    }


@pytest.fixture
def schema(callers):
    config = schemathesis.config.SchemathesisConfig.from_dict(CONFIG)
    return schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application(), config=config)


def operations(schema) -> list:
    return [result.ok() for result in schema.get_all_operations()]


def fuzz_operation(operation, mode: GenerationMode, caller: Caller, tally: Tally) -> None:
    writes = operation.method.upper() not in ("GET", "HEAD", "OPTIONS")

    @FUZZ
    @given(case=operation.as_strategy(generation_mode=mode))
    def send(case) -> None:
        before = row_counts() if writes else None
        response = case.call(headers=caller.headers, cookies=caller.cookies)
        tally.record(operation.label, case, response, before)

    try:
        send()
    except Unsatisfiable:  # nothing to break: e.g. GET /api/v1/machines/{name}/ takes any string
        assert mode is GenerationMode.NEGATIVE


def test_no_operation_answers_a_5xx_and_refused_writes_store_nothing(schema, callers):
    tally = Tally()
    for operation in operations(schema):
        for caller in callers.values():
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                fuzz_operation(operation, mode, caller, tally)
    print(tally.summary())
    assert tally.server_errors == [], "\n\n".join(tally.server_errors[:5])
    assert tally.partial_writes == [], "\n\n".join(tally.partial_writes[:5])
    assert set(tally.requests) == {operation.label for operation in operations(schema)}
    assert sum(tally.requests.values()) >= MIN_REQUESTS


@pytest.mark.parametrize("who", ["machine", "user"])
def test_stateful_sequences_through_the_schema_links_never_get_a_5xx(schema, callers, who):
    tally = Tally()
    caller = callers[who]

    class Workflow(schema.as_state_machine()):
        def get_call_kwargs(self, case):
            return {"headers": caller.headers, "cookies": caller.cookies}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            tally.record(case.operation.label, case, response)

    assert schema.statistic.transitions.selected > 0, "schemathesis found no links to follow"
    Workflow.run(settings=STATEFUL)
    print(tally.summary())
    assert tally.server_errors == [], "\n\n".join(tally.server_errors[:5])
    assert len(tally.requests) > 1
