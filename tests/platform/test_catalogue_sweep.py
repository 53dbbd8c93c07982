"""The beat sweep catalogues runs whose refresh_series task was lost (broker
down, worker killed), once; runs already counted are left alone."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from django.conf import settings

from engine.report import END_TO_END
from fleet.models import Machine
from results.catalogue import refresh_series_for_run
from results.ingest import ingest_report
from results.models import Run, Series
from results.tasks import catalogue_sweep
from roofwatch.celery import app
from tests.report_factory import make_report

DAY1 = datetime(2025, 3, 1, 8, tzinfo=timezone.utc)


@pytest.mark.django_db
def test_the_sweep_catalogues_the_runs_whose_task_was_lost():
    machine = Machine.objects.create(name="m1")
    runs = [ingest_report(make_report(layers=2, started_at=DAY1 + timedelta(days=i)), machine)[0].pk
            for i in range(3)]
    # No on-commit callbacks outside a real commit here: as if the three tasks were lost. One ran.
    refresh_series_for_run(runs[0])
    assert catalogue_sweep.delay().get() == 2
    assert dict(Series.objects.values_list("layer", "points")) == {END_TO_END: 3, "fc0": 3, "relu0": 3}
    assert not Run.objects.filter(catalogued=False).exists()
    assert catalogue_sweep() == 0


def test_beat_runs_the_outbox_sweeps():
    app.loader.import_default_modules()
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"notify.tasks.sweep_deliveries", "results.tasks.catalogue_sweep"} <= tasks
    assert tasks <= set(app.tasks)
