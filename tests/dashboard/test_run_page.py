import pytest
from django.urls import reverse

from .conftest import DLRM_LAYERS, make_benchmark, make_run
from .helpers import layer_data, table_rows

pytestmark = pytest.mark.django_db


def get_page(client, run):
    response = client.get(reverse("dashboard:run-page", args=[run.id]))
    assert response.status_code == 200
    return response.content.decode()


def test_it_embeds_one_chart_entry_per_layer_in_execution_order(client, run):
    data = layer_data(get_page(client, run))

    assert [entry["name"] for entry in data] == [layer[0] for layer in DLRM_LAYERS]
    assert [entry["op"] for entry in data] == [layer[1] for layer in DLRM_LAYERS]
    for entry, (_, _, _, _, median) in zip(data, DLRM_LAYERS):
        assert entry["median_ms"] == pytest.approx(median * 1e3)
        assert entry["p25_ms"] == pytest.approx(median * 0.97e3)
        assert entry["p75_ms"] == pytest.approx(median * 1.04e3)


def test_chart_entries_carry_the_bound_and_the_percent_of_roof(client, run):
    data = {entry["name"]: entry for entry in layer_data(get_page(client, run))}

    # 33.5 MFLOP in 262 us at AI 36.5 (above the 7.8 ridge): 128 GFLOP/s of 180.
    assert data["bot_mlp.1"]["bound"] == "compute"
    assert data["bot_mlp.1"]["roof_pct"] == pytest.approx(33_554_432 / 262e-6 / 1e9 / 180 * 100)
    # 11.9 MB in 1.42 ms at AI 0.25: 8.4 GB/s of 23.
    assert data["emb.fused"]["bound"] == "bandwidth"
    assert data["emb.fused"]["roof_pct"] == pytest.approx(11_894_784 / 1.42e-3 / 1e9 / 23 * 100)


def test_the_table_shows_each_layer_with_its_op_time_and_bound(client, run):
    rows = table_rows(get_page(client, run), "layers")

    assert [row["attrs"]["data-layer"] for row in rows] == [layer[0] for layer in DLRM_LAYERS]
    by_name = {row["attrs"]["data-layer"]: row for row in rows}
    emb = by_name["emb.fused"]["cells"]
    # index, layer, op, sources, time, share, FLOPs, bytes, GFLOP/s, GB/s, AI, bound, % of roof
    assert emb[1:3] == ["emb.fused", "EmbeddingBag"]
    assert emb[3] == "itself"
    assert emb[4] == "1.42 1.38–1.48"
    assert emb[6:8] == ["2.94 M", "11.9 M"]
    assert emb[9] == "8.38"
    assert emb[11] == "bandwidth"
    assert emb[12] == "36%"
    gemm = by_name["top_mlp.0"]["cells"]
    assert gemm[11] == "compute"
    assert gemm[12] == "72%"


def test_the_header_shows_machine_roofline_source_and_end_to_end(client, run):
    html = get_page(client, run)

    assert "dlrm_criteo_kaggle" in html
    assert "batch_size=<b>128</b>" in html
    assert "AMD EPYC 9R14 (Zen 4)" in html
    assert "180 GFLOP/s" in html and "23.0 GB/s" in html
    assert "7.83 FLOP/byte" in html  # ridge point
    assert "3f9c2e1d8b" in html and "main" in html
    assert "2026-11-20 09:30 UTC" in html
    assert "50 repeats after 5 warm-up" in html
    assert f"{run.median * 1e3:.3g}" in html


def test_it_keeps_the_roofline_the_run_was_measured_against(client, machine, benchmark):
    run = make_run(machine, benchmark)
    before = [entry["roof_pct"] for entry in layer_data(get_page(client, run))]
    machine.peak_gflops, machine.peak_gbs = 90.0, 11.0  # the machine is re-measured later
    machine.save()

    html = get_page(client, run)
    assert [entry["roof_pct"] for entry in layer_data(html)] == before
    assert "180 GFLOP/s" in html and "23.0 GB/s" in html


def test_a_run_without_layers_renders_an_empty_state(client, machine):
    run = make_run(machine, make_benchmark("tiny"), layers=[])
    html = get_page(client, run)

    assert layer_data(html) == []
    assert "No layers" in html


def test_it_loads_the_vendored_chart_and_the_page_script(client, run):
    html = get_page(client, run)

    assert '<script src="/static/vendor/chart.js/chart.umd.min.js">' in html
    assert '<script src="/static/dashboard/run.js">' in html
    assert "cdn" not in html.lower()


def test_an_unknown_run_is_404(client, db):
    response = client.get(reverse("dashboard:run-page", args=[999_999]))
    assert response.status_code == 404


def test_the_run_page_lives_under_runs(run):
    assert reverse("dashboard:run-page", args=[run.id]) == f"/runs/{run.id}/"


def test_the_run_page_runs_three_queries_however_many_layers(client, run, django_assert_num_queries):
    # the run with its machine/benchmark/project, its layers, the previous run's id (to compare with)
    with django_assert_num_queries(3):
        client.get(reverse("dashboard:run-page", args=[run.id]))


def test_params_and_flags_show_in_key_order_with_the_config(client, machine):
    benchmark = make_benchmark("din", {"seq_len": 50, "batch_size": 256})
    run = make_run(machine, benchmark)
    run.config = {**run.config, "flags": {"zeta_kernel": True, "alpha_path": "fast"}}
    run.save(update_fields=["config"])
    html = get_page(client, run)

    assert html.index("batch_size=<b>256</b>") < html.index("seq_len=<b>50</b>")
    assert html.index("alpha_path=<b>fast</b>") < html.index("zeta_kernel=<b>True</b>")
    assert "quant=<b>int8</b>" in html and "threads=<b>2</b>" in html
    assert ">fold_constants<" in html and ">fuse_gemm_bias<" in html
