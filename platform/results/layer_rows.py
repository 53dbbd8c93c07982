"""The bulk write of runs' layer measurements, kept in one place so the ingest
logic does not care how rows reach the table: PostgreSQL gets one binary COPY
(rows as tuples in COPY_COLUMNS order, results.bulk_copy), other databases
bulk_create."""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import connection

from results.bulk_copy import copy_into
from results.models import LayerMeasurement, Run
from results.report_schema import Layer

# Every column but the id, in the order copy_rows() writes them
# (a test checks this against the model, so a new field cannot be forgotten).
COPY_COLUMNS = (
    "run_id", "machine_id", "benchmark_id", "started_at", "name", "op", "index", "sources", "flops", "bytes",
    "median", "p25", "p75", "min", "n", "ci_low", "ci_high", "gflops", "gbs", "ai", "bound",
    "threads", "roof", "roof_gflops", "roof_gbs", "kernel_bytes", "work_unknown",
)


def layer_rows(run: Run, layers: Iterable[Layer]) -> list[LayerMeasurement]:
    """Unsaved rows for validated report layers; machine, benchmark and
    started_at are copied from the run (see LayerMeasurement)."""
    return [
        LayerMeasurement(
            run=run, machine_id=run.machine_id, benchmark_id=run.benchmark_id, started_at=run.started_at,
            name=layer.name, op=layer.op, index=layer.index, sources=list(layer.sources),
            flops=layer.flops, bytes=layer.bytes,
            median=layer.time.median, p25=layer.time.p25, p75=layer.time.p75, min=layer.time.min, n=layer.time.n,
            ci_low=layer.time.ci_low, ci_high=layer.time.ci_high,
            gflops=layer.gflops, gbs=layer.gbs, ai=layer.ai, bound=layer.bound,
            threads=layer.threads, roof=layer.roof, roof_gflops=layer.roof_gflops, roof_gbs=layer.roof_gbs,
            kernel_bytes=layer.kernel_bytes, work_unknown=layer.work_unknown,
        )
        for layer in layers
    ]


def copy_rows(run: Run, layers: Iterable[Layer]) -> list[tuple]:
    """Validated report layers as tuples in COPY_COLUMNS order (validation has
    refused NUL, NaN and numbers over their columns already)."""
    head = (run.pk, run.machine_id, run.benchmark_id, run.started_at)
    return [
        (*head, layer.name, layer.op, layer.index, layer.sources, layer.flops, layer.bytes,
         (t := layer.time).median, t.p25, t.p75, t.min, t.n, t.ci_low, t.ci_high,
         layer.gflops, layer.gbs, layer.ai, layer.bound,
         layer.threads, layer.roof, layer.roof_gflops, layer.roof_gbs, layer.kernel_bytes, layer.work_unknown)
        for layer in layers
    ]


def copy_layer_rows(rows: Iterable[tuple]) -> None:
    """Binary COPY of rows into the layer table, inside whatever transaction is open."""
    copy_into(LayerMeasurement, COPY_COLUMNS, rows)


def write_runs_layers(runs: Sequence[tuple[Run, Sequence[Layer]]]) -> int:
    """Insert the layers of several runs in bulk (one COPY on PostgreSQL);
    returns how many rows were written."""
    if connection.vendor == "postgresql":
        copy_layer_rows(row for run, layers in runs for row in copy_rows(run, layers))
        return sum(len(layers) for _, layers in runs)
    rows = [row for run, layers in runs for row in layer_rows(run, layers)]
    return len(LayerMeasurement.objects.bulk_create(rows, batch_size=1000))


def write_layer_rows(run: Run, layers: Sequence[Layer]) -> int:
    """Insert the layers of `run` in bulk; returns how many were written."""
    return write_runs_layers([(run, layers)])
