"""Settings of the Celery workers the notify reliability tests start: the test
settings, plus the queue of the test (so tasks the worker queues come back to
it) and a short Redis visibility timeout (so a killed worker's unacknowledged
message is redelivered in seconds, not the default hour)."""
import os

from tests.settings import *  # noqa: F403

CELERY_TASK_DEFAULT_QUEUE = os.environ["ROOFWATCH_TEST_QUEUE"]
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": int(os.environ.get("NOTIFY_TEST_VISIBILITY", "8"))}
