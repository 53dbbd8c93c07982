"""The bulk write of a run's layer measurements, kept in one function so a
faster path (PostgreSQL COPY) can replace it without touching the ingest logic."""
from collections.abc import Iterable

from results.models import LayerMeasurement, Run


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


def write_layer_rows(run: Run, layers: Iterable[dict]) -> int:
    """Insert the layers of `run` in bulk; returns how many were written."""
    return len(LayerMeasurement.objects.bulk_create(layer_rows(run, layers), batch_size=1000))
