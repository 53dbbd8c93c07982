"""The Celery app. Eager (in-process) unless CELERY_BROKER_URL is set."""
import os
import sys
from pathlib import Path

from celery import Celery

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # platform/ is a source root
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "roofwatch.settings")

app = Celery("roofwatch")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
