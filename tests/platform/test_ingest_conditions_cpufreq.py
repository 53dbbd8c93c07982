"""conditions.cpu_governor and conditions.turbo (the agent's reading of sysfs,
agents/quiet.py): stored when given, null allowed, anything else refused by
both the quick check and the full validation."""
import pytest
from rest_framework.exceptions import ValidationError

from engine.report import CPU_GOVERNOR_MAX_LENGTH
from results.models import Run
from results.serializers import ReportSerializer, validate_report
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


@pytest.mark.parametrize("conditions", [
    {**BASE, "cpu_governor": "performance", "turbo": True},
    {**BASE, "cpu_governor": None, "turbo": None},
    {**BASE, "turbo": 2},
])
def test_the_quick_check_and_the_serializer_agree_on_the_new_keys(conditions):
    report = make_report(conditions=conditions)
    serializer = ReportSerializer(data=report)
    if serializer.is_valid():
        assert validate_report(make_report(conditions=conditions))["conditions"] == \
            serializer.validated_data["conditions"]
    else:
        with pytest.raises(ValidationError):
            validate_report(report)
