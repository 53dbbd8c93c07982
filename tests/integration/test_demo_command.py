"""`manage.py demo` (what `make demo` runs) does the main job for real: real
engine runs through the real agent into the server, and the staged regression
ends as an alert summary classified and attributed from those measurements;
its model-under-test project's widened layer ends as an alert classified as
work at the commit that widened it, attributed to the model change."""
import json
import os
import sqlite3
import subprocess
import sys

from tests.conftest import REPO


def test_the_demo_stores_real_runs_and_files_the_staged_alert(tmp_path, engine_cache_dir):
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")},
        "DEBUG": "1", "ROOFWATCH_DATA_DIR": str(tmp_path), "ROOFWATCH_CACHE_DIR": str(engine_cache_dir),
        "DJANGO_SETTINGS_MODULE": "roofwatch.settings",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "demo", "--no-serve", "--port", "0", "--runs", "1"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "new runs stored" in done.stdout

    db = sqlite3.connect(tmp_path / "roofwatch.sqlite3")
    runs = db.execute("select count(*) from results_run").fetchone()[0]
    assert runs == 3 + 10 + 4 + 10  # one run of each demo benchmark, the staged history, the model's commits
    staged = [
        (classification, attribution)
        for classification, attribution in db.execute(
            "select classification, attribution from regressions_alertsummary"
        )
        if "compute:fc2:10.0" in attribution
    ]
    assert len(staged) == 1, staged
    assert staged[0][0] == "compute"
    layers = {row[0] for row in db.execute(
        "select a.layer from regressions_alert a join regressions_alertsummary s on a.summary_id = s.id "
        "where s.attribution like '%compute:fc2:10.0%' and a.vanished_at is null"
    )}
    assert "fc2" in layers

    # The model-under-test project: one commit job per commit of its repository, made by the demo.
    repo = tmp_path / "demo-ranker"
    shas = subprocess.run(["git", "-C", str(repo), "rev-list", "--reverse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.split()
    assert len(shas) == 10
    assert {row[0] for row in db.execute('select under_test from results_run where "commit" in (%s)'
                                         % ",".join("?" * len(shas)), shas)} == {"model"}
    model_summaries = [(classification, json.loads(attribution)) for classification, attribution in db.execute(
        "select classification, attribution from regressions_alertsummary") if '"model_version"' in attribution]
    assert len(model_summaries) == 1, model_summaries
    classification, attribution = model_summaries[0]
    assert classification == "work"
    assert attribution["model_version"]["commit"] == shas[6] == attribution["commits"]["first_bad"]
    assert "fc2" in {c["layer"] for c in attribution["model_version"]["changed"]}
