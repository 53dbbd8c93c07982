"""run_series becomes run_series_points, covering the run fields a layer series'
points carry (results.series). On PostgreSQL both steps run CONCURRENTLY, so a
big run table keeps taking uploads while the index is built."""
from django.db import migrations, models

INDEX = models.Index(
    fields=["machine", "benchmark", "started_at"],
    include=["id", "commit", "model_version", "config_hash", "purpose"],
    name="run_series_points",
)
OLD = models.Index(fields=["machine", "benchmark", "started_at"], name="run_series")


def _swap(apps, schema_editor, add, remove):
    run = apps.get_model("results", "Run")
    concurrently = {"concurrently": True} if schema_editor.connection.vendor == "postgresql" else {}
    schema_editor.add_index(run, add, **concurrently)
    schema_editor.remove_index(run, remove, **concurrently)


class Migration(migrations.Migration):
    atomic = False  # CREATE/DROP INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [("results", "0015_layer_work_unknown")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunPython(
                    lambda apps, editor: _swap(apps, editor, INDEX, OLD),
                    lambda apps, editor: _swap(apps, editor, OLD, INDEX),
                )
            ],
            state_operations=[
                migrations.RemoveIndex(model_name="run", name="run_series"),
                migrations.AddIndex(model_name="run", index=INDEX),
            ],
        )
    ]
