"""Drop the single-column indexes of LayerMeasurement.run and .machine: the
unique (run, index) constraint serves lookups by run (run detail, retention,
cascades) and layer_series, which leads with machine, serves lookups by
machine. Each index dropped makes the COPY of every ingest cheaper."""
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("fleet", "0002_enrollmenttoken"),
        ("results", "0006_run_catalogued"),
    ]

    operations = [
        migrations.AlterField(
            model_name="layermeasurement",
            name="machine",
            field=models.ForeignKey(
                db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="fleet.machine"
            ),
        ),
        migrations.AlterField(
            model_name="layermeasurement",
            name="run",
            field=models.ForeignKey(
                db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="layers", to="results.run"
            ),
        ),
    ]
