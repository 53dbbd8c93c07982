"""Fill the series catalogue from the runs and layer rows stored before it
existed. Self-contained (historical models only), so later changes to
results.catalogue cannot change what this migration did; tests check that
both give the same rows."""
from django.db import migrations
from django.db.models import Count, Max, Min

END_TO_END = "end_to_end"  # engine.report.END_TO_END, frozen here as migrations must be
BATCH_SIZE = 1000


def backfill_series(apps, schema_editor) -> None:
    Run = apps.get_model("results", "Run")
    LayerMeasurement = apps.get_model("results", "LayerMeasurement")
    Series = apps.get_model("results", "Series")
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


def delete_series(apps, schema_editor) -> None:
    apps.get_model("results", "Series").objects.all().delete()


class Migration(migrations.Migration):

    dependencies = [
        ("results", "0004_series_catalogue"),
    ]

    operations = [
        migrations.RunPython(backfill_series, delete_series),
    ]
