"""Real alerts for the outbound tests: a history whose layer fc1 gets 3x
slower at commit c12, through ingest and detection."""
from fleet.models import Machine
from notify.models import WebhookEndpoint
from regressions.detection import detect_benchmark
from regressions.models import AlertSummary
from results.models import Project
from tests.regressions.history import history, ingest_all


def make_regression(machine_name: str = "m1") -> AlertSummary:
    machine = Machine.objects.create(name=machine_name)
    runs = ingest_all(history(18, slow_from=12, slow={"fc1": 3.0}, layers=6), machine)
    detect_benchmark(runs[0].machine_id, runs[0].benchmark_id)
    return AlertSummary.objects.get()


def endpoint(kind: str, url: str, **fields) -> WebhookEndpoint:
    project = Project.objects.get()
    return WebhookEndpoint.objects.create(project=project, name=f"{kind}-{url}", kind=kind, url=url, **fields)
