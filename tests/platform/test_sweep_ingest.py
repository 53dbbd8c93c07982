"""Sweep reports: POST /api/v1/sweeps/ validates them strictly (every bad
field named), stores the sweep with each configuration, and one run per SLO
some configuration meets, carrying the best throughput under it; a replay is
answered with the stored sweep and a reused key with other content refused."""
from __future__ import annotations

import copy
import json

import pytest

from results.models import Run, Sweep
from results.sweep_ingest import BEST_UNDER_SLO_PARAM
from results.sweep_schema import MEASURED
from tests.sweep_factory import GRID, make_sweep

SWEEPS_URL = "/api/v1/sweeps/"


@pytest.fixture
def post_sweep(client, token):
    def post(report, token: str | None = token):
        headers = {"HTTP_AUTHORIZATION": f"Token {token}"} if token else {}
        body = report if isinstance(report, (str, bytes)) else json.dumps(report)
        return client.post(SWEEPS_URL, body, content_type="application/json", **headers)

    return post


def test_a_sweep_is_stored_with_every_configuration_and_a_best_run_per_slo(post_sweep, client, settings):
    settings.ROOFWATCH_SLOS_P99_MS = [1.0, 5.0, 1000.0]
    sent = make_sweep()
    response = post_sweep(sent)
    assert response.status_code == 201, response.content
    sweep = Sweep.objects.get()
    assert response.json() == {"id": sweep.pk, "url": f"/sweeps/{sweep.pk}/", "created": True}
    assert sweep.benchmark.model == "dlrm" and sweep.benchmark.params == {"rows": 20000}
    assert sweep.points.count() == len(GRID.configs()) and sweep.knobs["smt"]["settable"] is False
    points = sent["results"]
    runs = {run.benchmark.params[BEST_UNDER_SLO_PARAM]: run for run in Run.objects.all()}
    for slo, run in runs.items():
        best = max((p for p in points if p["p99_ms"] <= slo), key=lambda p: p["throughput"])
        assert run.median == pytest.approx(1 / best["throughput"])
        assert run.config["sweep"] == {k: best[k] for k in ("threads", "batch", "instances", "pin", "passes", "quant")}
        assert run.p25 < run.median < run.p75 and run.commit == "c1"
    assert set(runs) == {slo for slo in (1.0, 5.0, 1000.0) if any(p["p99_ms"] <= slo for p in points)}
    assert 1000.0 in runs and len(runs) >= 2
    detail = client.get(f"{SWEEPS_URL}{sweep.pk}/").json()
    assert len(detail["points"]) == len(points) and detail["points"][0]["throughput"] == points[0]["throughput"]


def test_a_replay_returns_the_stored_sweep_and_a_reused_key_is_refused(post_sweep):
    sent = make_sweep()
    assert post_sweep(sent).status_code == 201
    again = post_sweep(sent)
    assert again.status_code == 200 and again.json()["created"] is False
    other = copy.deepcopy(sent)
    other["results"][0]["throughput"] *= 2
    refused = post_sweep(other)
    assert refused.status_code == 409 and "already used by sweep" in refused.json()["detail"]
    assert Sweep.objects.count() == 1


def test_an_autotune_sweeps_own_slo_becomes_a_series_too(post_sweep, settings):
    settings.ROOFWATCH_SLOS_P99_MS = [1000.0]
    assert post_sweep(make_sweep(mode="autotune", slo_p99_ms=3.3)).status_code == 201
    assert sorted(Run.objects.values_list(f"benchmark__params__{BEST_UNDER_SLO_PARAM}", flat=True)) == [3.3, 1000.0]


def _broken(mutate):
    report = make_sweep()
    mutate(report)
    return report


@pytest.mark.parametrize("mutate, path, message", [
    (lambda r: r.update(schema="roofwatch.sweep/2"), "schema", ""),
    (lambda r: r.update(extra=1), "extra", ""),
    (lambda r: r["results"][0].update(threads="2"), "results[0].threads", ""),
    (lambda r: r["results"][0].update(status="ok", throughput=None), "results[0].throughput",
     "Required for a configuration that ran."),
    (lambda r: r["results"][1].update(status="skipped", error=""), "results[1].error", "Say why"),
    (lambda r: r["results"][2].update(p99_ms=0.0), "results[2].p99_ms", "p25_ms <= p50_ms"),
    (lambda r: r["results"][3].update(batch=7), "results[3].batch", "not among the grid's batch values"),
    (lambda r: r["results"].append(dict(r["results"][0])), "results[12]", "The same configuration as results[0]"),
    (lambda r: r["params"].update(batch=4), "params.batch", "a knob"),
    (lambda r: r.update(results=[]), "results", ""),
    (lambda r: r.update(rounds=0), "rounds", ""),
    (lambda r: r.update(rounds=101), "rounds", ""),
    (lambda r: r["results"][0].update(throughput_round=[1.0]), "results[0].throughput_round", ""),
    (lambda r: r["results"][0].update(throughput_rounds=[1.0] * 101, p99_ms_rounds=[1.0] * 101),
     "results[0].throughput_rounds", "length <= 100"),
    (lambda r: r["results"][0].update(throughput_rounds=[1e3, 2e3], p99_ms_rounds=[1.0, 2.0]),
     "results[0].throughput_rounds", "more than the report's 1 rounds"),
    (lambda r: r["results"][1].update(status="skipped", error="no CPUs", throughput_rounds=[1.0],
                                      p99_ms_rounds=[1.0], **dict.fromkeys(MEASURED)),
     "results[1].throughput_rounds", "Must be empty for a configuration that skipped"),
])
def test_a_bad_sweep_is_refused_naming_the_field_and_nothing_is_stored(post_sweep, mutate, path, message):
    response = post_sweep(_broken(mutate))
    assert response.status_code == 400, response.content
    problems = response.json()["errors"]
    assert path in problems, problems
    assert message in " ".join(problems[path])
    assert not Sweep.objects.exists() and not Run.objects.exists()


def test_a_sweep_in_rounds_is_stored_with_each_rounds_values_and_the_api_gives_them(post_sweep, client):
    sent = make_sweep(rounds=3)
    response = post_sweep(sent)
    assert response.status_code == 201, response.content
    sweep = Sweep.objects.get()
    assert sweep.rounds == 3
    first = sweep.points.get(index=0)
    assert first.throughput_rounds == sent["results"][0]["throughput_rounds"] and len(first.p99_ms_rounds) == 3
    detail = client.get(f"{SWEEPS_URL}{sweep.pk}/").json()
    assert detail["rounds"] == 3 and detail["points"][0]["throughput_rounds"] == first.throughput_rounds
    old = make_sweep()  # a report from before rounds: neither key
    del old["rounds"]
    assert post_sweep(old).status_code == 201
    stored = Sweep.objects.get(idempotency_key=old["idempotency_key"])
    assert stored.rounds == 1 and stored.points.first().throughput_rounds == []


@pytest.mark.parametrize("mutate, path, message", [
    (lambda p: p.update(throughput_rounds=[1.0, 2.0, 3.0]), "results[0].throughput_rounds",
     "throughput is the median of these rounds"),
    (lambda p: p.update(p99_ms_rounds=p["p99_ms_rounds"][:2]), "results[0].p99_ms_rounds", "One value per round"),
    (lambda p: p.update(throughput_rounds=[0.0] * 3), "results[0].throughput_rounds", ""),  # not a throughput
])
def test_rounds_that_do_not_fit_their_medians_are_refused(post_sweep, mutate, path, message):
    report = make_sweep(rounds=3)
    mutate(report["results"][0])
    response = post_sweep(report)
    assert response.status_code == 400, response.content
    problems = response.json()["errors"]
    assert path in problems and message in " ".join(problems[path]), problems


def test_a_sweep_needs_a_machine_token_and_its_own_fingerprint(post_sweep, machine):
    assert post_sweep(make_sweep(), token=None).status_code == 401
    assert post_sweep(make_sweep()).status_code == 201  # adopts fp-test-1
    refused = post_sweep(make_sweep(fingerprint="fp-other"))
    assert refused.status_code == 403 and "does not match machine 'm1'" in refused.json()["detail"]


@pytest.mark.parametrize("fields, path", [
    ({"p25_ms": None}, "results[0].p25_ms"),  # a missing quantile is named, not compared
    ({"p25_ms": 0.0, "p50_ms": 0.0}, "results[0].p50_ms"),
    ({"throughput": 1e-300}, "results[0].throughput"),  # its inverse would not be a float
])
def test_measurements_that_cannot_make_a_series_are_refused(post_sweep, fields, path):
    report = make_sweep()
    report["results"][0].update(fields)
    response = post_sweep(report)
    assert response.status_code == 400, response.content
    assert path in response.json()["errors"]


def test_a_model_under_test_onnx_sweeps_best_runs_say_what_is_under_test(post_sweep, settings):
    settings.ROOFWATCH_SLOS_P99_MS = [1000.0]
    sent = make_sweep(model="onnx")
    sent["params"] = {"path": "models/ranker.onnx"}
    sent["source"].update(under_test="model", engine_version="roofwatch 0.1.0")
    assert post_sweep(sent).status_code == 201
    sweep = Sweep.objects.get()
    assert sweep.benchmark.model == "onnx" and sweep.benchmark.params == {"path": "models/ranker.onnx"}
    (run,) = Run.objects.all()
    assert (run.under_test, run.engine_version) == ("model", "roofwatch 0.1.0")
    assert run.benchmark.params == {"path": "models/ranker.onnx", BEST_UNDER_SLO_PARAM: 1000.0}
