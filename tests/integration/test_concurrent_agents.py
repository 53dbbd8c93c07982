"""Eight agents at once against the threaded live server, on whatever database
the run has: the embedded SQLite default for a newcomer's `make test`,
PostgreSQL in CI's second pass. For about 20 s each agent claims a job,
uploads a report, uploads it again (a replay after a lost answer), and
completes the job with the run; with tasks eager, detection and the series
catalogue write in the same requests. No request may fail ("database is
locked" was the failure on SQLite) and every report is stored exactly once."""
import time

import pytest
import requests
from celery._state import _set_task_join_will_block

from fleet.models import DONE, KIND_SCHEDULE, Job, Machine
from results.models import LayerMeasurement, Run
from tests.concurrency import race
from tests.report_factory import make_report

AGENTS = 8
SECONDS = 20
JOBS_EACH = 400  # more than an agent can finish in SECONDS: the queue never runs dry
SPEC = {"model": "mlp", "params": {"batch_size": 64}, "config": {}, "warmup": 1, "repeats": 1, "timeout_seconds": 60}


@pytest.fixture(autouse=True)
def celery_join_flag_reset():
    """Eager tasks run in the server's request threads; Celery's process-global
    'joining would block' flag can be left set by concurrent eager tasks."""
    yield
    _set_task_join_will_block(False)


class FleetAgent:
    """One machine's agent speaking the HTTP API as roofwatch-agent does."""

    def __init__(self, url: str, index: int, token: str) -> None:
        self.url, self.index = url, index
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"
        self.errors: list[str] = []
        self.uploaded: dict[str, int] = {}  # idempotency_key -> run id
        self.completed: list[tuple[int, int]] = []  # (job id, run id)

    def post(self, path: str, body: dict, ok: tuple[int, ...]) -> requests.Response | None:
        try:
            resp = self.session.post(f"{self.url}{path}", json=body, timeout=60)
        except requests.RequestException as exc:
            self.errors.append(f"POST {path}: {exc}")
            return None
        if resp.status_code not in ok:
            self.errors.append(f"POST {path}: {resp.status_code} {resp.text[:300]}")
            return None
        return resp

    def step(self) -> None:
        claim = self.post("/api/v1/jobs/claim", {"lease_seconds": 120}, ok=(200, 204))
        report = make_report(fingerprint=f"fp-agent-{self.index}", commit=f"c{len(self.uploaded)}")
        first = self.post("/api/v1/runs/", report, ok=(201,))
        replay = self.post("/api/v1/runs/", report, ok=(200,))
        if first is None or replay is None:
            return
        run_id = first.json()["id"]
        if replay.json()["id"] != run_id:
            self.errors.append(f"replay of {report['idempotency_key']} answered run {replay.json()['id']}, "
                               f"not {run_id}")
        self.uploaded[report["idempotency_key"]] = run_id
        if claim is not None and claim.status_code == 200:
            job = claim.json()
            if self.post(f"/api/v1/jobs/{job['id']}/complete", {"lease": job["lease"], "run": run_id}, ok=(200,)):
                self.completed.append((job["id"], run_id))

    def work(self, seconds: float) -> "FleetAgent":
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.step()
        return self


@pytest.mark.timeout(300)
def test_eight_agents_uploading_and_claiming_at_once_lose_nothing(transactional_db, live_server):
    agents = []
    for i in range(AGENTS):
        machine = Machine.objects.create(name=f"agent-{i}")
        Job.objects.bulk_create([Job(machine=machine, kind=KIND_SCHEDULE, **SPEC) for _ in range(JOBS_EACH)])
        agents.append(FleetAgent(live_server.url, i, machine.rotate_token()))

    race(lambda i: agents[i].work(SECONDS), AGENTS, timeout=SECONDS + 200)

    assert [error for agent in agents for error in agent.errors] == []
    uploaded = {key: run_id for agent in agents for key, run_id in agent.uploaded.items()}
    assert len(uploaded) >= AGENTS * 5, "too few requests got through to call this a test of concurrency"
    stored = dict(Run.objects.values_list("idempotency_key", "pk"))
    assert {str(key): pk for key, pk in stored.items()} == uploaded
    assert LayerMeasurement.objects.count() == 4 * len(uploaded)
    for agent in agents:
        done = Job.objects.filter(machine__name=f"agent-{agent.index}", status=DONE)
        assert sorted(done.values_list("id", "run_id")) == sorted(agent.completed)
        assert {run.machine.name for run in Run.objects.filter(pk__in=[r for _, r in agent.completed])} <= {
            f"agent-{agent.index}"}
