"""Settings of the worker and beat of the broker-outage test: those of the
notify workers (the test's queue), no result backend (nothing reads results,
and a task must not fail storing one while the broker is down), and beat
running only the outbox sweeps, every ROOFWATCH_OUTBOX_SWEEP_SECONDS."""
from tests.notify.worker_settings import *  # noqa: F403

CELERY_RESULT_BACKEND = None
OUTBOX_SWEEPS = ("notify-sweep-deliveries", "results-catalogue-sweep")
CELERY_BEAT_SCHEDULE = {name: entry for name, entry in CELERY_BEAT_SCHEDULE.items()  # noqa: F405
                        if name in OUTBOX_SWEEPS}
