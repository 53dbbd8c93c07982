"""The agent records the noise conditions in the report it spools."""
import json

from agents.execute import with_conditions


def test_it_adds_the_conditions_to_the_report_and_keeps_everything_else():
    report = {"schema": "roofwatch.run/1", "idempotency_key": "k", "layers": [{"name": "fc1"}]}
    conditions = {"loadavg_start": [0.1, 0.2, 0.3], "quiet": True, "waited_seconds": 0.0, "cpus": None}
    doc = json.loads(with_conditions(json.dumps(report).encode(), conditions))
    assert doc == {**report, "conditions": conditions}
