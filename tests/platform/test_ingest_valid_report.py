"""A valid report is stored whole: project, benchmark, run, layers, machine."""
import uuid
from datetime import datetime

import pytest

from fleet.models import Machine
from results.canonical import canonical_sha256
from results.ingest import HARDWARE_FIELDS
from results.models import Benchmark, LayerMeasurement, Project, Run
from tests.report_factory import DEFAULT_REPOSITORY, make_report

from .conftest import row_counts


def test_it_stores_a_valid_report_and_answers_201(upload, machine):
    report = make_report(layers=4)
    response = upload(report)
    assert response.status_code == 201, response.content
    run = Run.objects.get()
    assert response.json() == {"id": run.pk, "url": f"/runs/{run.pk}/", "created": True}
    assert response["Location"] == f"/api/v1/runs/{run.pk}/"
    assert row_counts() == {"Project": 1, "Benchmark": 1, "Run": 1, "LayerMeasurement": 4}

    assert run.machine == machine
    assert run.idempotency_key == uuid.UUID(report["idempotency_key"])
    assert run.started_at == datetime.fromisoformat(report["started_at"])
    assert run.commit == "abc123" and run.branch == "main"
    assert run.model_version == report["benchmark"]["model_version"]
    assert run.config == report["config"]
    assert run.config_hash == canonical_sha256(report["config"])
    assert len(run.payload_sha256) == 64 and run.payload_sha256 != canonical_sha256(report["config"])
    assert {key: getattr(run, key) for key in report["end_to_end"]} == report["end_to_end"]
    assert (run.warmup, run.repeats) == (report["warmup"], report["repeats"])


def test_it_stores_every_layer_with_its_values(upload):
    report = make_report(layers=5)
    assert upload(report).status_code == 201
    run = Run.objects.get()
    stored = list(LayerMeasurement.objects.filter(run=run).order_by("index"))
    assert len(stored) == 5
    for row, layer in zip(stored, report["layers"], strict=True):
        assert (row.name, row.op, row.index) == (layer["name"], layer["op"], layer["index"])
        assert row.sources == layer["sources"]
        assert (row.flops, row.bytes, row.bound) == (layer["flops"], layer["bytes"], layer["bound"])
        assert (row.gflops, row.gbs, row.ai) == (layer["gflops"], layer["gbs"], layer["ai"])
        assert {k: getattr(row, k) for k in layer["time"]} == layer["time"]
        assert (row.machine_id, row.benchmark_id, row.started_at) == (run.machine_id, run.benchmark_id, run.started_at)


def test_it_fills_the_machine_from_its_first_report(upload, machine):
    report = make_report(fingerprint="fp-new")
    assert upload(report).status_code == 201
    machine = Machine.objects.get(pk=machine.pk)
    assert machine.fingerprint == "fp-new"
    for field in HARDWARE_FIELDS:
        assert getattr(machine, field) == report["machine"][field], field
    assert machine.first_seen is not None and machine.last_seen >= machine.first_seen


def test_it_keeps_the_newer_hardware_when_an_older_report_arrives_late(upload, machine):
    newer = make_report(started_at="2025-03-02T00:00:00+00:00", machine={"peak_gflops": 200.0})
    assert upload(newer).status_code == 201
    late = make_report(started_at="2025-03-01T00:00:00+00:00", machine={"peak_gflops": 150.0})
    assert upload(late).status_code == 201
    assert Machine.objects.get(pk=machine.pk).peak_gflops == 200.0


def test_it_reuses_project_and_benchmark_for_the_same_model_and_params(upload):
    assert upload(make_report(commit="a1")).status_code == 201
    assert upload(make_report(commit="a2")).status_code == 201
    assert upload(make_report(commit="a3", batch=8)).status_code == 201
    project = Project.objects.get()
    assert (project.name, project.repository_url) == ("example/roofwatch-models", DEFAULT_REPOSITORY)
    assert sorted(b.params["batch_size"] for b in Benchmark.objects.all()) == [8, 64]
    assert Run.objects.count() == 3


def test_it_files_reports_without_a_repository_under_the_local_project(upload):
    assert upload(make_report(source={"repository": ""})).status_code == 201
    project = Project.objects.get()
    assert (project.name, project.repository_url) == ("local", "local")


@pytest.mark.parametrize(
    "spelling", [DEFAULT_REPOSITORY + ".git", DEFAULT_REPOSITORY + "/", f"  {DEFAULT_REPOSITORY}  "]
)
def test_it_files_spellings_of_one_repository_under_one_project(upload, spelling):
    assert upload(make_report()).status_code == 201
    assert upload(make_report(source={"repository": spelling})).status_code == 201
    assert Project.objects.get().repository_url == DEFAULT_REPOSITORY


def test_it_fills_defaulted_sections_like_the_report_dataclasses(upload):
    report = make_report()
    report["config"] = {}
    report["source"] = {"repository": DEFAULT_REPOSITORY}
    assert upload(report).status_code == 201
    run = Run.objects.get()
    assert run.config == {"passes": [], "quant": "none", "threads": None, "flags": {}, "inject": [],
                          "target_ci": None, "budget_s": None}
    assert (run.commit, run.branch, run.commit_time, run.ci_url) == ("", "", None, "")
