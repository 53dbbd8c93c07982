"""Machines: the list and one machine's specs, peaks, noise and runs."""
from .helpers import table_rows
from .seed import MACHINES


def test_the_list_shows_every_machine_with_its_peaks_and_runs(client, seeded):
    rows = table_rows(client.get("/machines/").content.decode(), "machines")
    assert [row["attrs"]["data-machine"] for row in rows] == list(MACHINES)
    cells = rows[0]["cells"]
    assert cells[1] == "ok" and cells[5] == "180" and cells[6] == "23.0" and cells[9] == "18"


def test_the_detail_shows_specs_noise_and_recent_runs(client, seeded):
    response = client.get(f"/machines/{MACHINES[1]}/")
    html = response.content.decode()
    assert "AMD EPYC 9R14 96-Core Processor" in html and "180 GFLOP/s" in html
    assert len(table_rows(html, "runs")) == 18
    (noise,) = response.context["noise"]
    assert noise["runs"] == 18
    # seeded noise is 1% run to run; the machine without the slowdown stays near it
    assert 0 < noise["between_pct"] < 3


def test_a_step_barely_moves_the_run_to_run_noise(client, seeded):
    (noise,) = client.get(f"/machines/{MACHINES[0]}/").context["noise"]
    assert noise["between_pct"] < 3


def test_an_unknown_machine_is_404(client, db):
    assert client.get("/machines/nope/").status_code == 404
