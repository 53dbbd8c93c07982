"""The layer table becomes monthly range partitions on PostgreSQL (results.partitions).

A table of up to INLINE_ROWS rows is converted here; a bigger one is left plain
(everything works on it) for `manage.py partition_layers`, which converts it
online without holding a deploy. SQLite keeps the plain table."""
from django.db import migrations

INLINE_ROWS = 1_000_000


def partition_layers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    from results import partitions

    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM (SELECT 1 FROM "{partitions.TABLE}" LIMIT {INLINE_ROWS + 1}) AS rows')
        if cursor.fetchone()[0] > INLINE_ROWS:
            print(
                f"\n  {partitions.TABLE} has over {INLINE_ROWS:,} rows: left unpartitioned; "
                "run `manage.py partition_layers` to convert it online."
            )
            return
    partitions.convert_to_partitioned()


class Migration(migrations.Migration):
    atomic = False  # the conversion commits batch by batch

    dependencies = [("results", "0012_run_purpose")]

    operations = [migrations.RunPython(partition_layers, migrations.RunPython.noop, elidable=False)]
