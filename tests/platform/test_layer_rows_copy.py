"""On PostgreSQL, layer rows are written with COPY inside the ingest transaction."""
from __future__ import annotations

from datetime import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from fleet.models import Machine
from results import ingest
from results.ingest import ingest_report
from results.layer_rows import COPY_COLUMNS
from results.models import LayerMeasurement, Run
from tests.conftest import need_service
from tests.platform.conftest import row_counts
from tests.report_factory import make_report, old_report

LAYERS = 300


@pytest.fixture
def postgres():
    if connection.vendor != "postgresql":
        need_service(f"COPY needs PostgreSQL, the test database is {connection.vendor} (set DATABASE_URL)")


def stored_layer(row: LayerMeasurement) -> dict:
    """A stored row in the report's layer shape."""
    return {
        "name": row.name,
        "op": row.op,
        "index": row.index,
        "sources": row.sources,
        "flops": row.flops,
        "bytes": row.bytes,
        "time": {"median": row.median, "p25": row.p25, "p75": row.p75, "min": row.min, "n": row.n,
                 "ci_low": row.ci_low, "ci_high": row.ci_high},
        "gflops": row.gflops,
        "gbs": row.gbs,
        "ai": row.ai,
        "bound": row.bound,
        "threads": row.threads,
        "roof": row.roof,
        "roof_gflops": row.roof_gflops,
        "roof_gbs": row.roof_gbs,
        "kernel_bytes": row.kernel_bytes,
    }


@pytest.mark.django_db
def test_it_copies_300_layers_that_read_back_equal_to_the_report(postgres):
    machine = Machine.objects.create(name="m1")
    report = make_report(layers=LAYERS)
    # Text that COPY's text format must escape: tabs, newlines, backslashes, quotes, non-ASCII.
    report["layers"][1]["name"] = "relu0\tweird\\name\n\"ü\""
    report["layers"][2]["sources"] = ["fc1", "bias\tadd", "back\\slash", 'quo"te', "\N{GREEK SMALL LETTER MU}"]
    report["layers"][3]["sources"] = []

    with CaptureQueriesContext(connection) as queries:
        run, created = ingest_report(report, machine)

    assert created
    copies = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("COPY")]
    assert len(copies) == 2 and '"results_run"' in copies[0] and '"results_layermeasurement"' in copies[1]
    assert not [q for q in queries.captured_queries if 'INSERT INTO "results_layermeasurement"' in q["sql"]]

    rows = list(LayerMeasurement.objects.filter(run=run).order_by("index"))
    assert [stored_layer(row) for row in rows] == report["layers"]
    started_at = datetime.fromisoformat(report["started_at"])
    for row in rows:
        assert (row.machine_id, row.benchmark_id, row.started_at) == (machine.pk, run.benchmark_id, started_at)


@pytest.mark.django_db
def test_it_copies_the_measurement_fidelity_fields_and_nulls_where_a_report_has_none(postgres):
    machine = Machine.objects.create(name="m1")
    report = make_report(layers=6, fidelity=True)
    report["layers"][4]["roof"] = None  # one layer with some fields and not others
    report["layers"][4]["time"].update(ci_low=None, ci_high=None)
    run, _ = ingest_report(report, machine)
    rows = list(LayerMeasurement.objects.filter(run=run).order_by("index"))
    assert [stored_layer(row) for row in rows] == report["layers"]
    assert rows[0].kernel_bytes == report["layers"][0]["kernel_bytes"] and rows[1].roof == "gather"

    old = old_report(make_report(layers=3))
    run, _ = ingest_report(old, machine)
    for row in LayerMeasurement.objects.filter(run=run):
        assert (row.ci_low, row.threads, row.roof, row.roof_gflops, row.roof_gbs, row.kernel_bytes) == (None,) * 6


@pytest.mark.django_db(transaction=True)
def test_a_failure_after_the_copy_rolls_the_copied_rows_back(postgres, monkeypatch):
    machine = Machine.objects.create(name="m1")
    copied = []

    def copy_then_fail(runs):
        copied.append(real_write(runs))
        (run, _), = runs
        assert LayerMeasurement.objects.filter(run=run).count() == LAYERS  # visible inside the transaction
        raise RuntimeError("a later step failed")

    real_write = ingest.write_runs_layers
    monkeypatch.setattr(ingest, "write_runs_layers", copy_then_fail)
    with pytest.raises(RuntimeError, match="a later step failed"):
        ingest_report(make_report(layers=LAYERS), machine)

    assert copied == [LAYERS]
    assert row_counts() == {"Project": 0, "Benchmark": 0, "Run": 0, "LayerMeasurement": 0}
    # The connection is usable again and a retry stores everything.
    monkeypatch.setattr(ingest, "write_runs_layers", real_write)
    run, created = ingest_report(make_report(layers=LAYERS), machine)
    assert created and Run.objects.count() == 1 and run.layers.count() == LAYERS


def test_the_copy_columns_are_every_column_of_the_table_but_the_id():
    columns = [f.column for f in LayerMeasurement._meta.concrete_fields if not f.primary_key]
    assert sorted(COPY_COLUMNS) == sorted(columns) and len(COPY_COLUMNS) == len(columns)
