"""The bulk write of a run's layer measurements, kept in one function so the
ingest logic does not care how rows reach the table: PostgreSQL gets COPY
(several times faster than INSERT for hundreds of rows), other databases
bulk_create."""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from django.db import connection

from results.models import LayerMeasurement, Run

# Every column but the id, in the order copy_tuples() writes them
# (a test checks this against the model, so a new field cannot be forgotten).
COPY_COLUMNS = (
    "run_id", "machine_id", "benchmark_id", "started_at", "name", "op", "index", "sources", "flops", "bytes",
    "median", "p25", "p75", "min", "n", "gflops", "gbs", "ai", "bound",
)
COPY_SQL = (
    f'COPY "{LayerMeasurement._meta.db_table}" (' + ", ".join(f'"{c}"' for c in COPY_COLUMNS) + ") FROM STDIN"
)


def layer_rows(run: Run, layers: Iterable[dict]) -> list[LayerMeasurement]:
    """Unsaved rows for validated report layers; machine, benchmark and
    started_at are copied from the run (see LayerMeasurement)."""
    return [
        LayerMeasurement(
            run=run,
            machine_id=run.machine_id,
            benchmark_id=run.benchmark_id,
            started_at=run.started_at,
            name=layer["name"],
            op=layer["op"],
            index=layer["index"],
            sources=list(layer["sources"]),
            flops=layer["flops"],
            bytes=layer["bytes"],
            median=layer["time"]["median"],
            p25=layer["time"]["p25"],
            p75=layer["time"]["p75"],
            min=layer["time"]["min"],
            n=layer["time"]["n"],
            gflops=layer["gflops"],
            gbs=layer["gbs"],
            ai=layer["ai"],
            bound=layer["bound"],
        )
        for layer in layers
    ]


def copy_tuples(run: Run, layers: Iterable[dict]) -> Iterator[tuple]:
    """Validated report layers as tuples in COPY_COLUMNS order, straight from the
    dicts (building model instances would cost more than the COPY itself). The
    JSON column goes as its text, which the server parses into jsonb."""
    head = (run.pk, run.machine_id, run.benchmark_id, run.started_at)
    for layer in layers:
        stats = layer["time"]
        yield head + (
            layer["name"], layer["op"], layer["index"], json.dumps(list(layer["sources"])), layer["flops"],
            layer["bytes"], stats["median"], stats["p25"], stats["p75"], stats["min"], stats["n"], layer["gflops"],
            layer["gbs"], layer["ai"], layer["bound"],
        )


def copy_layer_rows(rows: Iterable[tuple]) -> int:
    """COPY tuples in COPY_COLUMNS order into the table on the default
    (PostgreSQL) connection, inside whatever transaction is open; returns how
    many were written."""
    count = 0
    with connection.cursor() as cursor:
        # Django's cursor wrappers pass copy() through to the psycopg 3 cursor.
        with cursor.copy(COPY_SQL) as copy:
            for values in rows:
                copy.write_row(values)
                count += 1
    return count


def write_layer_rows(run: Run, layers: Iterable[dict]) -> int:
    """Insert the layers of `run` in bulk; returns how many were written."""
    if connection.vendor == "postgresql":
        return copy_layer_rows(copy_tuples(run, layers))
    return len(LayerMeasurement.objects.bulk_create(layer_rows(run, layers), batch_size=1000))
