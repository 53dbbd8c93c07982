"""A drift alert's webhook says it crept over a commit range, not that one commit caused it."""
import pytest

from fleet.models import Machine
from notify.messages import headline, summary_document
from regressions.models import DRIFT
from tests.regressions.test_detection_drift import detect, ramped

pytestmark = pytest.mark.django_db


def test_a_drift_summary_names_its_commit_range():
    runs = ramped(Machine.objects.create(name="m1"))
    drift = next(a for a in detect(runs) if a.kind == DRIFT)
    doc = summary_document(drift.summary)
    assert {a["kind"] for a in doc["alerts"]} == {DRIFT}
    commits = doc["attribution"]["commits"]
    assert f"creeping drift over {commits['last_good']}..{commits['first_bad']}" in headline(doc)
