"""tests.report_factory makes valid, self-consistent reports."""
import uuid

import pytest

from engine.report import SCHEMA, Report
import json

from results.report_parser import decode_report
from tests.report_factory import make_report


def test_its_reports_pass_validation_and_round_trip_the_dataclasses():
    report = make_report(layers=7)
    decode_report(json.dumps(report).encode())
    assert Report.from_dict(report).to_dict() == report
    assert report["schema"] == SCHEMA


def test_its_numbers_are_consistent():
    report = make_report(layers=4)
    ridge = report["machine"]["peak_gflops"] / report["machine"]["peak_gbs"]
    for layer in report["layers"]:
        median = layer["time"]["median"]
        assert layer["gflops"] == pytest.approx(layer["flops"] / median / 1e9)
        assert layer["gbs"] == pytest.approx(layer["bytes"] / median / 1e9)
        assert layer["ai"] == pytest.approx(layer["flops"] / layer["bytes"])
        assert layer["bound"] == ("compute" if layer["ai"] >= ridge else "bandwidth")
    assert [layer["op"] for layer in report["layers"]] == ["Linear", "Relu", "Linear", "Relu"]
    assert {layer["bound"] for layer in report["layers"]} == {"compute", "bandwidth"}


def test_it_gives_every_report_a_fresh_key():
    keys = {make_report()["idempotency_key"] for _ in range(3)}
    assert len(keys) == 3 and all(uuid.UUID(k).version == 4 for k in keys)


def test_time_scale_slows_every_layer():
    base, slow = make_report(), make_report(time_scale=2.0)
    for a, b in zip(base["layers"], slow["layers"], strict=True):
        assert b["time"]["median"] == pytest.approx(2 * a["time"]["median"])
        assert b["gflops"] == pytest.approx(a["gflops"] / 2)


def test_section_overrides_merge_and_other_overrides_replace():
    report = make_report(source={"branch": "dev"}, warmup=0)
    assert report["source"]["branch"] == "dev" and report["source"]["commit"] == "abc123"
    assert report["warmup"] == 0


def test_machine_overrides_shift_the_roofline_verdict():
    # With a huge bandwidth peak, the ridge drops below every layer's intensity.
    report = make_report(machine={"peak_gbs": 1e6})
    assert {layer["bound"] for layer in report["layers"]} == {"compute"}
