"""conditions.cpu_governor and conditions.turbo (the agent's reading of sysfs,
agents/quiet.py): stored when given, null allowed, anything else refused
naming the field."""
import pytest

from engine.report import CPU_GOVERNOR_MAX_LENGTH
from results.models import Run
from tests.report_factory import make_report

BASE = {"loadavg_start": [0.3, 0.8, 0.8], "max_load": 1.0, "quiet": True, "waited_seconds": 0.0, "cpus": None}


@pytest.mark.parametrize("governor, turbo", [("performance", False), ("powersave,schedutil", True), (None, None)])
def test_the_governor_and_turbo_are_stored_with_the_run(upload, governor, turbo):
    conditions = {**BASE, "cpu_governor": governor, "turbo": turbo}
    response = upload(make_report(conditions=conditions))
    assert response.status_code == 201, response.content
    assert Run.objects.get().conditions == conditions


@pytest.mark.parametrize("change, field", [
    ({"cpu_governor": "x" * (CPU_GOVERNOR_MAX_LENGTH + 1)}, "conditions.cpu_governor"),
    ({"cpu_governor": 3}, "conditions.cpu_governor"),
    ({"turbo": "maybe"}, "conditions.turbo"),
])
def test_a_bad_governor_or_turbo_is_refused_by_name(upload, change, field):
    response = upload(make_report(conditions={**BASE, **change}))
    assert response.status_code == 400
    assert field in response.json()["errors"], response.json()


def test_conditions_keep_only_the_keys_sent(upload):
    response = upload(make_report(conditions={"quiet": False}))
    assert response.status_code == 201, response.content
    assert Run.objects.get().conditions == {"quiet": False}


def test_a_number_for_turbo_is_refused_not_read_as_a_boolean(upload):
    response = upload(make_report(conditions={**BASE, "turbo": 2}))
    assert response.status_code == 400
    assert response.json()["errors"]["conditions.turbo"] == ["Expected a boolean or null, got number."]
