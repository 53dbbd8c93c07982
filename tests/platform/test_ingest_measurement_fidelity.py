"""The measurement-fidelity fields of a report (confidence intervals of the
medians, every thread count's roofs, each layer's threads, roof and kernel
bytes, timed page faults) are stored; a report without them still is."""
import pytest

from results.models import LayerMeasurement, Run
from tests.report_factory import GATHER_GBS, NEW_LAYER_KEYS, make_report, old_report

LAYER_FIELDS = ("ci_low", "ci_high", *NEW_LAYER_KEYS)


def stored_layers(run: Run) -> list[LayerMeasurement]:
    return list(LayerMeasurement.objects.filter(run=run).order_by("index"))


def test_a_report_with_the_new_fields_round_trips_into_the_database(upload):
    report = make_report(layers=4, fidelity=True)
    assert upload(report).status_code == 201
    run = Run.objects.get()
    e2e = report["end_to_end"]
    assert (run.ci_low, run.ci_high) == (e2e["ci_low"], e2e["ci_high"])
    assert run.roofs == report["machine"]["roofs"]
    assert run.roofs[1]["gather_gbs"] == GATHER_GBS
    assert run.timed_page_faults == 0
    assert (run.config["target_ci"], run.config["budget_s"]) == (1.0, 30.0)
    for row, layer in zip(stored_layers(run), report["layers"], strict=True):
        assert (row.ci_low, row.ci_high) == (layer["time"]["ci_low"], layer["time"]["ci_high"])
        assert {k: getattr(row, k) for k in NEW_LAYER_KEYS} == {k: layer[k] for k in NEW_LAYER_KEYS}
    linear, relu = stored_layers(run)[:2]
    assert (linear.roof, linear.threads, linear.kernel_bytes) == ("stream", 2, 2 * linear.bytes)
    assert (relu.roof, relu.threads, relu.roof_gbs, relu.kernel_bytes) == ("gather", 2, GATHER_GBS["256"], None)


def test_a_report_from_before_the_new_fields_still_ingests_with_them_null(upload):
    report = old_report(make_report(layers=3))
    assert "ci_low" not in report["end_to_end"] and "roofs" not in report["machine"]
    assert upload(report).status_code == 201
    run = Run.objects.get()
    assert (run.ci_low, run.ci_high, run.roofs, run.timed_page_faults) == (None, None, None, None)
    assert "target_ci" not in report["config"]
    for row in stored_layers(run):
        assert {k: getattr(row, k) for k in LAYER_FIELDS} == dict.fromkeys(LAYER_FIELDS)


def test_some_layers_with_roofs_and_some_without_store_each_as_sent(upload):
    report = make_report(layers=4, fidelity=True)
    for key in NEW_LAYER_KEYS:
        report["layers"][3].pop(key)
    report["layers"][2]["time"].update(ci_low=None, ci_high=None)
    assert upload(report).status_code == 201
    rows = stored_layers(Run.objects.get())
    assert rows[0].roof == "stream" and rows[3].roof is None and rows[3].roof_gbs is None
    assert rows[2].ci_low is None and rows[1].ci_low == report["layers"][1]["time"]["ci_low"]


@pytest.mark.parametrize("path, value, field", [
    (("end_to_end", "ci_low"), None, "end_to_end.ci_low"),
    (("layers", 1, "time", "ci_high"), 1e-9, "layers[1].time.ci_low"),
    (("layers", 0, "roof"), "cache", "layers[0].roof"),
    (("machine", "roofs", 0, "gather_gbs"), {"64B": 1.0}, "machine.roofs[0].gather_gbs"),
    (("timed_page_faults",), -1, "timed_page_faults"),
])
def test_it_refuses_bad_new_fields_naming_them(upload, path, value, field):
    report = make_report(layers=2, fidelity=True)
    node = report
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    response = upload(report)
    assert response.status_code == 400
    assert field in response.json()["errors"], response.json()
    assert Run.objects.count() == 0
