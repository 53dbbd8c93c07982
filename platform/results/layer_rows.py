"""The bulk write of runs' layer measurements, kept in one place so the ingest
logic does not care how rows reach the table: PostgreSQL gets one COPY of
preformatted text (psycopg's per-row write_row costs more than the server's
work), other databases bulk_create."""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from django.db import connection

from results.models import LayerMeasurement, Run

# Every column but the id, in the order copy_text() writes them
# (a test checks this against the model, so a new field cannot be forgotten).
COPY_COLUMNS = (
    "run_id", "machine_id", "benchmark_id", "started_at", "name", "op", "index", "sources", "flops", "bytes",
    "median", "p25", "p75", "min", "n", "ci_low", "ci_high", "gflops", "gbs", "ai", "bound",
    "threads", "roof", "roof_gflops", "roof_gbs", "kernel_bytes",
)
COPY_SQL = (
    f'COPY "{LayerMeasurement._meta.db_table}" (' + ", ".join(f'"{c}"' for c in COPY_COLUMNS) + ") FROM STDIN"
)
# COPY's text format: these characters are written as backslash escapes.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NULL = "\\N"  # COPY's text format for NULL
# Optional layer fields (null in reports from before the engine measured them).
OPTIONAL_LAYER_FIELDS = ("threads", "roof", "roof_gflops", "roof_gbs", "kernel_bytes")


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
            ci_low=layer["time"].get("ci_low"),
            ci_high=layer["time"].get("ci_high"),
            gflops=layer["gflops"],
            gbs=layer["gbs"],
            ai=layer["ai"],
            bound=layer["bound"],
            **{key: layer.get(key) for key in OPTIONAL_LAYER_FIELDS},
        )
        for layer in layers
    ]


def _text(value: str) -> str:
    return value.translate(_COPY_ESCAPES) if "\\" in value or not value.isprintable() else value


def _optional(value: int | float | str | None) -> str:
    """An optional number or choice in COPY text: NULL, repr (exact round trip for
    floats), or plain text (a choice validation limited to ROOF_KINDS)."""
    if value is None:
        return _NULL
    return _text(value) if isinstance(value, str) else repr(value)


def copy_text(run: Run, layers: Iterable[dict]) -> str:
    """Validated report layers as COPY text lines in COPY_COLUMNS order. Floats
    go as repr (exact round trip), the JSON column as its text, which the
    server parses into jsonb, and absent optional fields as NULL. Validation
    has refused NUL and NaN already."""
    head = f"{run.pk}\t{run.machine_id}\t{run.benchmark_id}\t{run.started_at.isoformat()}\t"
    lines = []
    for layer in layers:
        t = layer["time"]
        optional = "\t".join(_optional(layer.get(key)) for key in OPTIONAL_LAYER_FIELDS)
        lines.append(
            f"{head}{_text(layer['name'])}\t{_text(layer['op'])}\t{layer['index']}\t"
            f"{_text(json.dumps(layer['sources']))}\t{layer['flops']}\t{layer['bytes']}\t"
            f"{t['median']!r}\t{t['p25']!r}\t{t['p75']!r}\t{t['min']!r}\t{t['n']}\t"
            f"{_optional(t.get('ci_low'))}\t{_optional(t.get('ci_high'))}\t"
            f"{layer['gflops']!r}\t{layer['gbs']!r}\t{layer['ai']!r}\t{_text(layer['bound'])}\t{optional}\n"
        )
    return "".join(lines)


def copy_layer_text(text: str) -> None:
    """COPY text lines into the layer table on the default (PostgreSQL)
    connection, inside whatever transaction is open."""
    with connection.cursor() as cursor:
        # Django's cursor wrappers pass copy() through to the psycopg 3 cursor.
        with cursor.copy(COPY_SQL) as copy:
            copy.write(text)


def write_runs_layers(runs: Sequence[tuple[Run, Sequence[dict]]]) -> int:
    """Insert the layers of several runs in bulk (one COPY on PostgreSQL);
    returns how many rows were written."""
    if connection.vendor == "postgresql":
        copy_layer_text("".join(copy_text(run, layers) for run, layers in runs))
        return sum(len(layers) for _, layers in runs)
    rows = [row for run, layers in runs for row in layer_rows(run, layers)]
    return len(LayerMeasurement.objects.bulk_create(rows, batch_size=1000))


def write_layer_rows(run: Run, layers: Sequence[dict]) -> int:
    """Insert the layers of `run` in bulk; returns how many were written."""
    return write_runs_layers([(run, layers)])
