"""On PostgreSQL the points' times are formatted by the database; they must
read exactly as the Python formatting (`_iso`) writes them."""
from datetime import datetime, timedelta, timezone

import pytest
from django.db import connection

from results.models import Run
from results.series import UtcIsoText, _iso
from tests.conftest import need_service
from tests.report_factory import make_report

MOMENTS = [
    datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
    datetime(2026, 1, 2, 3, 4, 5, 120, tzinfo=timezone.utc),
    datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    datetime(1999, 1, 1, tzinfo=timezone.utc),
]


@pytest.mark.parametrize("moment", MOMENTS, ids=str)
def test_the_database_formats_times_as_python_does(upload, moment):
    if connection.vendor != "postgresql":
        need_service("DATABASE_URL does not point at PostgreSQL")
    assert upload(make_report(started_at=moment.isoformat())).status_code == 201
    text = Run.objects.values_list(UtcIsoText("started_at"), flat=True).get()
    assert text == _iso(moment.astimezone(timezone.utc))
