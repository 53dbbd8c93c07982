"""The whole API fuzzed from its own OpenAPI schema (/api/schema/) with
schemathesis and every one of its checks: no 5xx, no answer the schema does
not document (status, content type, headers, body), every request the schema
allows accepted and every one it forbids refused, no anonymous access the
schema does not declare, and a refused write stores nothing.

Every operation gets requests built from the schema, valid ones and ones that
break it, with a share of known trouble makers (NUL, huge numbers, impossible
dates) in every string and integer, as three callers: anonymous, a fleet
machine (agent token) and a signed-in user (session and CSRF token). Generated
run and sweep reports are repaired (tests/platform/api_conformance.py) so that
they are really ingested: at least UPLOADS run reports answered 201. Then stateful runs, one per caller,
chain operations through the links schemathesis infers from the schema (a
created or listed resource's id into its detail, update and sub-resources), so
the ids that exist get fuzzed too: triage by the signed-in user included.

PostgreSQL only (what production runs; SQLite would take text PostgreSQL
refuses): skipped on SQLite, failed under ROOFWATCH_REQUIRE_SERVICES=1.
The requests go to the project's WSGI application in this process
(schemathesis's WSGI transport), with the database in autocommit like a real
server's (transactional_db).

Bounded and repeatable: a fixed number of examples per operation, derandomized
hypothesis (the seed is fixed), no example database. A few minutes on two
cores; benchmarks/api_conformance.py runs the same with SCALE times the examples.
"""
from __future__ import annotations

import json
import os

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core.wsgi import get_wsgi_application
from django.db import connection
from django.middleware.csrf import get_token
from django.test import Client, RequestFactory
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from fleet.models import Machine
from tests.conftest import need_service
from tests.dashboard.seed import seed_regression
from tests.report_factory import make_report

from .api_conformance import RUNS, SWEEPS, Caller, Tally, repair_moments, repair_report, repair_sweep
from .job_fixtures import make_job

SCALE = int(os.environ.get("ROOFWATCH_SCHEMATHESIS_SCALE", "1"))  # benchmarks/api_conformance.py raises it
EXAMPLES = 8 * SCALE  # per operation, caller and generation mode
UPLOADS = 1000 * SCALE  # generated run reports that must be ingested (201)
FUZZ = settings(
    max_examples=EXAMPLES, derandomize=True, database=None, deadline=None, phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
STATEFUL = settings(FUZZ, max_examples=15 * SCALE, stateful_step_count=8)
FINGERPRINT = "fp-fuzz-1"

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


@pytest.fixture
def callers(transactional_db) -> dict[str, Caller]:
    """Something of everything to find: runs, series and an alert summary
    (seed_regression), machine m1 with a run and queued jobs, a user."""
    if connection.vendor != "postgresql":
        need_service(f"the conformance run needs PostgreSQL, the test database is {connection.vendor} "
                     "(set DATABASE_URL)")
    seed_regression()
    machine = Machine.objects.create(name="m1")
    token = machine.rotate_token()
    client = Client()
    response = client.post("/api/v1/runs/", json.dumps(make_report(fingerprint=FINGERPRINT)),
                           content_type="application/json", HTTP_AUTHORIZATION=f"Token {token}")
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
    loaded = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application(), config=config)

    def map_case(context, case):
        if case.meta is None or not case.meta.generation.mode.is_positive or not isinstance(case.body, dict):
            return case
        case.body = repair_moments(case.body)
        repair = {RUNS: repair_report, SWEEPS: repair_sweep}.get(case.operation.label)
        if repair:
            case.body = repair(case.body, FINGERPRINT)
        return case

    loaded.hook(map_case)
    return loaded


def operations(schema) -> list:
    return [result.ok() for result in schema.get_all_operations()]


def fuzz(operation, mode: GenerationMode, caller: Caller, tally: Tally, examples: int = EXAMPLES) -> None:
    writes = operation.method.upper() not in ("GET", "HEAD", "OPTIONS")

    @settings(FUZZ, max_examples=examples)
    @given(case=operation.as_strategy(generation_mode=mode))
    def send(case) -> None:
        tally.send(case, caller, rows=writes)

    try:
        send()
    except Unsatisfiable:  # nothing to break: e.g. a body of any JSON object
        assert mode is GenerationMode.NEGATIVE


def assert_clean(tally: Tally) -> None:
    print(tally.summary())
    assert not tally.server_errors and not tally.partial_writes and not tally.failures, tally.problems()


@pytest.mark.parametrize("who", ["anonymous", "machine", "user"])
def test_every_operation_passes_every_check(schema, callers, who):
    tally = Tally()
    callers[who].authenticate(schema)
    for operation in operations(schema):
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz(operation, mode, callers[who], tally)
    assert_clean(tally)
    assert set(tally.requests) == {operation.label for operation in operations(schema)}


def test_generated_run_reports_are_ingested_and_pass_every_check(schema, callers):
    """Repaired reports reach ingestion: at least UPLOADS answered 201."""
    tally = Tally()
    callers["machine"].authenticate(schema)
    (upload,) = [operation for operation in operations(schema) if operation.label == RUNS]
    fuzz(upload, GenerationMode.POSITIVE, callers["machine"], tally, examples=UPLOADS + UPLOADS // 10)
    assert_clean(tally)
    assert tally.created() >= UPLOADS, tally.summary()


@pytest.mark.parametrize("who", ["anonymous", "machine", "user"])
def test_stateful_sequences_through_the_schema_links_pass_every_check(schema, callers, who):
    tally = Tally()
    caller = callers[who]
    caller.authenticate(schema)

    class Workflow(schema.as_state_machine()):
        def validate_response(self, response, case, additional_checks=None, **kwargs):
            tally.record(case, response, caller)

    assert schema.statistic.transitions.selected > 0, "schemathesis found no links to follow"
    Workflow.run(settings=STATEFUL)
    assert_clean(tally)
    assert len(tally.requests) > 1
