"""Run.catalogued: whether the run's points are counted in the series catalogue,
so the catalogue can be updated per run (points + 1) without double counting;
and an index for the ingest's "newer run of this machine?" check.

Runs stored before this migration were counted by the full recompute that
followed each ingest; they are marked catalogued, and the catalogue is rebuilt
once from them (as 0005 did), so a recompute still queued when this ran is
not lost. Self-contained: historical models only."""
from django.db import migrations, models
from django.db.models import Count, Max, Min

END_TO_END = "end_to_end"  # engine.report.END_TO_END, frozen here as migrations must be
BATCH_SIZE = 1000


def rebuild_catalogue(apps, schema_editor) -> None:
    Run = apps.get_model("results", "Run")
    LayerMeasurement = apps.get_model("results", "LayerMeasurement")
    Series = apps.get_model("results", "Series")
    Run.objects.filter(catalogued=False).update(catalogued=True)
    Series.objects.all().delete()
    end_to_end = (
        Run.objects.order_by().values("machine_id", "benchmark_id")
        .annotate(first=Min("started_at"), last=Max("started_at"), points=Count("id"))
    )
    layers = (
        LayerMeasurement.objects.order_by().values("machine_id", "benchmark_id", "name")
        .annotate(op=Max("op"), position=Min("index"), first=Min("started_at"), last=Max("started_at"),
                  points=Count("id"))
    )
    rows = [
        Series(machine_id=r["machine_id"], benchmark_id=r["benchmark_id"], layer=END_TO_END, op="", index=None,
               first=r["first"], last=r["last"], points=r["points"])
        for r in end_to_end.iterator()
    ]
    rows += [
        Series(machine_id=r["machine_id"], benchmark_id=r["benchmark_id"], layer=r["name"], op=r["op"],
               index=r["position"], first=r["first"], last=r["last"], points=r["points"])
        for r in layers.iterator()
    ]
    Series.objects.bulk_create(rows, batch_size=BATCH_SIZE)


class Migration(migrations.Migration):

    dependencies = [
        ("results", "0005_backfill_series"),
    ]

    operations = [
        migrations.AddField(
            model_name="run",
            name="catalogued",
            field=models.BooleanField(default=False, editable=False),
        ),
        migrations.AddIndex(
            model_name="run",
            index=models.Index(fields=["machine", "started_at"], name="run_machine_started"),
        ),
        migrations.AddIndex(
            model_name="run",
            index=models.Index(condition=models.Q(("catalogued", False)), fields=["id"], name="run_uncatalogued"),
        ),
        migrations.RunPython(rebuild_catalogue, migrations.RunPython.noop),
    ]
