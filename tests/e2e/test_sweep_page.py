"""The sweep page draws, in the browser, throughput against p99 with one
point per measured configuration, the Pareto front as its own line and a star
at the best configuration under each SLO; for a real sweep of dlrm made on
this machine (tests/sweep_reports/dlrm_grid.json) and for a made-up one whose
front and bests are known."""
from __future__ import annotations

import json
from pathlib import Path

from dashboard.templatetags.dashboard_format import format_sig
from engine.sweep.report import best_under_slo, pareto_front
from fleet.models import Machine
from results.sweep_ingest import ingest_sweep
from tests.sweep_factory import make_sweep

REAL = Path(__file__).resolve().parents[1] / "sweep_reports" / "dlrm_grid.json"
DATASETS = ("() => Object.fromEntries(Chart.getChart(document.getElementById('sweep-chart')).data.datasets"
            ".map(d => [d.rwRole, d.data.map(p => [p.config.index, p.y, p.x, p.slo === undefined ? null : p.slo])]))")


def drawn(page, sweep):
    page.open(f"/sweeps/{sweep.pk}/", "body[data-sweep-ready]")
    return page.page.evaluate(DATASETS)


def expected(results, slos):
    ok = [(i, r) for i, r in enumerate(results) if r["status"] == "ok"]
    xy = [(r["throughput"], r["p99_ms"]) for _, r in ok]
    front = sorted((ok[j] for j in pareto_front(xy)), key=lambda item: item[1]["p99_ms"])
    bests = [(ok[j][0], slo) for slo in slos if (j := best_under_slo(xy, slo)) is not None]
    return ok, front, bests


def test_a_real_dlrm_sweep_draws_every_point_its_pareto_front_and_best_per_slo(transactional_db, page, settings):
    settings.ROOFWATCH_SLOS_P99_MS = [5.0, 20.0, 100.0, 1000.0]
    report = json.loads(REAL.read_text())
    assert report["model"] == "dlrm" and {"threads", "batch", "instances"} <= set(report["grid"])
    sweep, _ = ingest_sweep(report, Machine.objects.create(name="here"))
    datasets = drawn(page, sweep)
    ok, front, bests = expected(report["results"], settings.ROOFWATCH_SLOS_P99_MS)
    assert [(i, y, x) for i, y, x, _ in datasets["all"]] == [(i, r["throughput"], r["p99_ms"]) for i, r in ok]
    assert [i for i, *_ in datasets["pareto"]] == [i for i, _ in front]
    assert [(i, slo) for i, _, _, slo in datasets["best"]] == bests and bests
    rows = page.page.locator("#configurations tbody tr").count()
    assert rows == len(report["results"])
    assert page.page.inner_text("#sweep-rounds") == "one measurement of each configuration"  # before rounds
    page.shot("sweep-dlrm")
    page.assert_no_errors()


def test_the_front_and_the_stars_are_where_the_numbers_put_them(transactional_db, page, settings):
    settings.ROOFWATCH_SLOS_P99_MS = [2.0, 5.0]
    report = make_sweep(fingerprint="made-up")
    sweep, _ = ingest_sweep(report, Machine.objects.create(name="made-up"))
    datasets = drawn(page, sweep)
    # the factory's bests: (2, 32, 2) under 2 ms, (2, 128, 2) under 5 ms
    knobs = {i: (r["threads"], r["batch"], r["instances"]) for i, r in enumerate(report["results"])}
    assert [(knobs[i], slo) for i, _, _, slo in datasets["best"]] == [((2, 32, 2), 2.0), ((2, 128, 2), 5.0)]
    front = [knobs[i] for i, *_ in datasets["pareto"]]
    assert (2, 32, 2) in front and (2, 128, 2) in front and (1, 128, 1) not in front
    p99s = [x for _, _, x, _ in datasets["pareto"]]
    assert p99s == sorted(p99s)  # the line runs left to right
    assert "best ≤ 2.0 ms" in page.page.inner_text("#configurations")
    assert page.page.inner_text("#best-under-slo").count("samples/s") == 2
    page.assert_no_errors()


TOOLTIP = ("() => { const c = Chart.getChart(document.getElementById('sweep-chart')); const d = c.data.datasets"
           ".findIndex(d => d.rwRole === 'all'); return c.options.plugins.tooltip.callbacks.label("
           "{raw: c.data.datasets[d].data[0]}); }")


def test_a_sweep_in_rounds_says_over_how_many_and_shows_each_throughputs_range(transactional_db, page):
    report = make_sweep(fingerprint="rounds", rounds=3)
    sweep, _ = ingest_sweep(report, Machine.objects.create(name="rounds"))
    drawn(page, sweep)
    assert page.page.inner_text("#sweep-rounds").startswith(
        "medians over 3 rounds of each configuration (interleaved over the grid")
    first = report["results"][0]
    low, high = min(first["throughput_rounds"]), max(first["throughput_rounds"])
    row = page.page.inner_text("#configurations tbody tr[data-index='0']")
    assert f"{format_sig(low)}–{format_sig(high)}" in row and row.endswith("\t3\tok")  # the rounds column
    assert "medians of 3 rounds; samples/s" in page.page.evaluate(TOOLTIP)
    page.shot("sweep-rounds")
    page.assert_no_errors()


def test_the_sweep_list_links_each_sweep_and_its_page_fits_a_laptop_screen(transactional_db, page):
    page.open("/sweeps/", "main")
    assert "No sweeps yet" in page.page.inner_text("main")
    sweep, _ = ingest_sweep(make_sweep(fingerprint="listed"), Machine.objects.create(name="listed"))
    page.open("/sweeps/", "#sweeps")
    assert page.page.inner_text(f"#sweeps tr[data-sweep='{sweep.pk}']").startswith(f"sweep {sweep.pk}")
    page.page.set_viewport_size({"width": 1024, "height": 720})
    page.page.click(f"#sweeps tr[data-sweep='{sweep.pk}'] a")
    page.page.wait_for_selector("body[data-sweep-ready]", state="attached", timeout=10_000)
    overflow = page.page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the sweep page scrolls sideways by {overflow}px at 1024px wide"
    page.shot("sweep-1024px")
    page.assert_no_errors()
