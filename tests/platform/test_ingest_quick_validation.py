"""The quick check of valid reports (results.serializers.quick_check) answers
exactly as the DRF serializers it is built from: the same validated report for
any report they accept, and DRF's own errors for any they refuse."""
from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from rest_framework.exceptions import ValidationError

import results.serializers
from results.serializers import ReportSerializer, validate_report
from results.strict_fields import BIGINT_MAX, POSITIVE_INT_MAX
from tests.report_factory import make_report, old_report

from .test_api_fuzz import FUZZ, mutated_reports


def outcome(validate) -> tuple[str, Any]:
    try:
        return "valid", validate()
    except ValidationError as exc:
        return "invalid", exc.detail


def by_serializer(data: Any) -> tuple[str, Any]:
    def validate():
        serializer = ReportSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data
    return outcome(validate)


def assert_same_answer(data: Any) -> None:
    expected = by_serializer(copy.deepcopy(data))
    got = outcome(lambda: validate_report(data))
    assert got == expected
    if got[0] == "valid":  # == also holds for 1 == 1.0; the stored types must match too
        assert json.dumps(got[1], default=repr) == json.dumps(expected[1], default=repr)


def with_value(path: tuple, value: Any) -> dict:
    report = json.loads(json.dumps(make_report(layers=3, fidelity=True)))
    node = report
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return report


@FUZZ
@given(report=mutated_reports())
def test_it_answers_any_report_as_the_serializers_do(report):
    assert_same_answer(report)


LIMITS = [
    (("layers", 1, "name"), "n" * 200),
    (("layers", 1, "name"), "n" * 201),
    (("layers", 1, "name"), ""),
    (("layers", 1, "name"), " "),
    (("layers", 1, "name"), "caf\u00e9"),
    (("layers", 1, "name"), "bad\ud800"),
    (("layers", 1, "name"), "nul\x00"),
    (("layers", 1, "sources"), []),
    (("layers", 1, "sources"), ["a", 3]),
    (("layers", 1, "sources"), ("a",)),
    (("layers", 1, "index"), POSITIVE_INT_MAX),
    (("layers", 1, "index"), POSITIVE_INT_MAX + 1),
    (("layers", 1, "index"), True),
    (("layers", 1, "flops"), BIGINT_MAX),
    (("layers", 1, "flops"), BIGINT_MAX + 1),
    (("layers", 1, "flops"), 1.0),
    (("layers", 1, "gflops"), 7),
    (("layers", 1, "gflops"), -0.0),
    (("layers", 1, "gflops"), -1e-300),
    (("layers", 1, "gflops"), 10**400),
    (("layers", 1, "gflops"), None),
    (("layers", 1, "bound"), "compute"),
    (("layers", 1, "bound"), "Compute"),
    (("layers", 1, "time", "min"), 0),
    (("layers", 1, "time", "n"), 0),
    (("layers", 1, "time", "p75"), 0.0),
    (("layers", 1, "time", "extra"), 1),
    (("layers", 1), {}),
    (("layers", 1), None),
    (("layers",), []),
    (("machine", "peak_gbs"), 0),
    (("config", "threads"), None),
    (("source", "ci_url"), None),
    (("source", "ci_url"), "ftp://ci.example/1"),
    (("profiler_overhead",), None),
    (("profiler_overhead",), -1),
    (("started_at",), "2025-13-01T00:00:00Z"),
    # The measurement-fidelity fields (optional; fidelity=True reports carry them).
    (("end_to_end", "ci_low"), None),
    (("end_to_end", "ci_high"), 0.0),
    (("layers", 1, "time", "ci_low"), 1),
    (("layers", 1, "roof"), "cache"),
    (("layers", 1, "roof"), None),
    (("layers", 1, "threads"), 0),
    (("layers", 1, "roof_gbs"), 3),
    (("layers", 1, "kernel_bytes"), BIGINT_MAX + 1),
    (("machine", "roofs"), []),
    (("machine", "roofs", 0, "gather_gbs"), {"256": 0}),
    (("machine", "roofs", 0, "gather_gbs"), {"x": 1.0}),
    (("machine", "roofs", 0, "threads"), None),
    (("config", "target_ci"), 101),
    (("timed_page_faults",), 3),
    (("timed_page_faults",), -1),
]


@pytest.mark.parametrize("path, value", LIMITS, ids=[f"{'.'.join(map(str, p))}={v!r:.20}" for p, v in LIMITS])
def test_it_answers_values_at_the_limits_of_each_field_as_the_serializers_do(path, value):
    assert_same_answer(with_value(path, value))


def test_it_answers_duplicate_layer_names_as_the_serializers_do():
    report = json.loads(json.dumps(make_report(layers=3)))
    report["layers"][2]["name"] = report["layers"][0]["name"]
    assert_same_answer(report)


def test_it_answers_a_report_without_the_measurement_fidelity_keys_as_the_serializers_do():
    assert_same_answer(old_report(make_report(layers=3)))


@pytest.mark.parametrize("section", ["benchmark", "config", "source"])
def test_it_fills_defaults_of_optional_fields_as_the_serializers_do(section):
    report = json.loads(json.dumps(make_report(layers=2)))
    optional = {"benchmark": ["params"], "config": ["passes", "quant", "threads", "flags", "inject"],
                "source": ["repository", "commit", "branch", "commit_time", "ci_url"]}[section]
    for key in optional:
        report[section].pop(key, None)
    assert_same_answer(report)


@pytest.mark.parametrize("fidelity", [False, True], ids=["old fields", "with CIs and roofs"])
def test_it_does_not_build_the_serializers_for_a_valid_report(monkeypatch, fidelity):
    report = json.loads(json.dumps(make_report(layers=5, fidelity=fidelity)))
    validate_report(report)  # the quick check is built once, from a serializer

    def refuse(*args, **kwargs):
        raise AssertionError("a valid report went through the full serializers")

    monkeypatch.setattr(results.serializers, "ReportSerializer", refuse)
    assert validate_report(report)["layers"][4]["name"] == report["layers"][4]["name"]
