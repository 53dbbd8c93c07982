"""Reports of the onnxruntime backend (issue 24): config.backend and
config.runtime stored, layers of unknown work stored with null FLOPs/bytes and
their reason, each backend's runs in their own series, and the contradictions
refused with the field named. Real reports of both backends
(tests.backend_reports); on PostgreSQL the layer rows go by binary COPY."""
from __future__ import annotations

import copy

import pytest

from regressions.attribution import config_diff
from results.canonical import canonical_sha256
from results.catalogue import refresh_all_series
from results.models import Benchmark, LayerMeasurement, Run, Series
from tests.backend_reports import report
from tests.report_factory import make_report

WORK_FIELDS = ("flops", "bytes", "gflops", "gbs", "ai", "bound")


def test_an_onnxruntime_report_is_stored_with_its_backend_and_runtime(upload):
    sent = report("mlp_ort")
    response = upload(sent)
    assert response.status_code == 201, response.content
    run = Run.objects.get()
    assert run.config["backend"] == "onnxruntime"
    assert run.config["runtime"] == sent["config"]["runtime"]
    assert run.config["runtime"]["version"] and run.config["runtime"]["intra_op_num_threads"] == 2
    assert run.benchmark.params["backend"] == "onnxruntime"
    layers = list(run.layers.order_by("index"))
    assert [(ly.name, ly.op, ly.sources) for ly in layers] == [
        (ly["name"], ly["op"], ly["sources"]) for ly in sent["layers"]]
    assert layers[0].name == "fused fc1" and layers[0].op == "FusedGemm" and layers[0].sources == ["fc1", "relu1"]
    assert all(ly.work_unknown is None and ly.flops > 0 for ly in layers)


def test_layers_of_unknown_work_keep_null_work_and_their_reason(upload, client):
    sent = report("din_small_ort")
    assert upload(sent).status_code == 201
    run = Run.objects.get()
    unknown = [ly for ly in sent["layers"] if ly.get("work_unknown")]
    assert unknown and len(unknown) < len(sent["layers"])
    for layer in sent["layers"]:
        row = run.layers.get(index=layer["index"])
        assert row.work_unknown == layer.get("work_unknown")
        assert [getattr(row, f) for f in WORK_FIELDS] == [layer[f] for f in WORK_FIELDS]
        assert (row.roof_gflops, row.roof_gbs) == (layer["roof_gflops"], layer["roof_gbs"])  # roofs stay
    served = {ly["name"]: ly for ly in client.get(f"/api/v1/runs/{run.pk}/").json()["layers"]}
    first = unknown[0]
    assert served[first["name"]]["work_unknown"] == first["work_unknown"]
    assert served[first["name"]]["flops"] is None and served[first["name"]]["bound"] is None


def test_empty_sources_and_names_with_spaces_and_slashes_are_stored(upload):
    sent = report("din_small_ort")
    sent["layers"][0]["sources"] = []
    sent["layers"][1]["name"] = "ReorderOutput node / nchwc 1"
    sent["layers"][1]["op"] = "ReorderOutput"
    response = upload(sent)
    assert response.status_code == 201, response.content
    run = Run.objects.get()
    assert run.layers.get(index=sent["layers"][0]["index"]).sources == []
    assert run.layers.get(index=sent["layers"][1]["index"]).name == "ReorderOutput node / nchwc 1"


def test_engine_reports_store_no_backend_keys_and_keep_their_config_hash(upload):
    sent = report("mlp_engine")
    assert "backend" not in sent["config"] and "runtime" not in sent["config"]
    assert upload(sent).status_code == 201
    plain = Run.objects.get()
    assert "backend" not in plain.config and "runtime" not in plain.config
    # Saying the defaults out loud stores the same config: the series shows no config change.
    spelled = report("mlp_engine")
    spelled["config"] = {**spelled["config"], "backend": "engine", "runtime": None}
    assert upload(spelled).status_code == 201
    again = Run.objects.exclude(pk=plain.pk).get()
    assert again.config == plain.config and again.config_hash == plain.config_hash
    assert again.benchmark_id == plain.benchmark_id


def test_the_two_backends_runs_are_in_different_series(upload, db):
    assert upload(report("mlp_engine")).status_code == 201
    assert upload(report("mlp_ort")).status_code == 201
    engine, ort = sorted(Run.objects.all(), key=lambda r: r.config.get("backend", ""))
    assert engine.benchmark_id != ort.benchmark_id
    assert engine.benchmark.model == ort.benchmark.model == "mlp"
    assert Benchmark.objects.count() == 2
    refresh_all_series()
    by_benchmark = {b: set(Series.objects.filter(benchmark_id=b).values_list("layer", flat=True))
                    for b in (engine.benchmark_id, ort.benchmark_id)}
    assert "fused fc1" in by_benchmark[ort.benchmark_id] and "fused fc1" not in by_benchmark[engine.benchmark_id]
    assert "fc1+relu1" in by_benchmark[engine.benchmark_id]
    # Every layer row is filed under its own run's benchmark.
    for run in (engine, ort):
        assert set(LayerMeasurement.objects.filter(run=run).values_list("benchmark_id", flat=True)) == {
            run.benchmark_id}


def test_a_runtime_upgrade_is_a_config_change_key_by_key():
    before = report("mlp_ort")["config"]
    after = copy.deepcopy(before)
    after["runtime"]["version"] = "1.33.0"
    after["runtime"]["intra_op_num_threads"] = 4
    assert config_diff(before, after) == {
        "runtime.intra_op_num_threads": {"before": 2, "after": 4},
        "runtime.version": {"before": before["runtime"]["version"], "after": "1.33.0"},
    }
    assert canonical_sha256(before) != canonical_sha256(after)


def _errors(response) -> dict:
    assert response.status_code == 400, response.content
    return response.json()["errors"]


def test_work_fields_must_be_null_exactly_with_work_unknown(upload):
    sent = report("din_small_ort")
    unknown = next(i for i, ly in enumerate(sent["layers"]) if ly.get("work_unknown"))
    known = next(i for i, ly in enumerate(sent["layers"]) if not ly.get("work_unknown"))
    sent["layers"][unknown]["flops"] = 10
    sent["layers"][known]["bound"] = None
    sent["layers"][known]["gbs"] = None
    errors = _errors(upload(sent))
    assert set(errors) == {f"layers[{unknown}].flops", f"layers[{known}].bound", f"layers[{known}].gbs"}
    assert "Must be null when work_unknown is set" in errors[f"layers[{unknown}].flops"][0]
    assert "work_unknown" in errors[f"layers[{known}].bound"][0]
    assert Run.objects.count() == 0


def test_an_engine_report_may_not_leave_work_null(upload):
    sent = make_report(layers=2)
    sent["layers"][1]["flops"] = None
    assert list(_errors(upload(sent))) == ["layers[1].flops"]


@pytest.mark.parametrize("change, field", [
    (lambda r: r["config"].update(backend="tvm"), "config.backend"),
    (lambda r: r["config"].update(backend=1), "config.backend"),
    (lambda r: r["config"]["runtime"].update(intra_op_num_threads="2"), "config.runtime.intra_op_num_threads"),
    (lambda r: r["config"]["runtime"].update(surprise=True), "config.runtime.surprise"),
    (lambda r: r["config"]["runtime"].pop("version"), "config.runtime.version"),
    (lambda r: r["config"].update(runtime=[]), "config.runtime"),
    (lambda r: r["layers"][0].update(work_unknown="x" * 1001), "layers[0].work_unknown"),
    (lambda r: r["layers"][0].update(work_unknown="nul \x00"), "layers[0].work_unknown"),
    (lambda r: r["layers"][0].update(sources=["ok", 3]), "layers[0].sources"),
    (lambda r: r["benchmark"]["params"].pop("backend"), "benchmark.params.backend"),
    (lambda r: r["benchmark"]["params"].update(backend="engine"), "benchmark.params.backend"),
])
def test_bad_backend_fields_are_refused_naming_the_field(upload, change, field):
    sent = report("mlp_ort")
    change(sent)
    errors = _errors(upload(sent))
    assert list(errors) == [field], errors
    assert Run.objects.count() == 0


def test_an_engine_report_may_not_claim_an_onnxruntime_series(upload):
    sent = report("mlp_engine")
    sent["benchmark"]["params"]["backend"] = "onnxruntime"
    errors = _errors(upload(sent))
    assert list(errors) == ["benchmark.params.backend"]
    assert "config.backend" in errors["benchmark.params.backend"][0]
