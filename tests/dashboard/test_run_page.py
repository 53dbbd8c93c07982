import pytest
from django.urls import reverse

from .conftest import DLRM_LAYERS, make_benchmark, make_run
from .helpers import chart_url, table_rows

pytestmark = pytest.mark.django_db


def get_page(client, run):
    response = client.get(reverse("dashboard:run-page", args=[run.id]))
    assert response.status_code == 200
    return response.content.decode()


def chart_data(client, html: str) -> dict:
    """The run as the page's charts load it (the layer chart's data-url)."""
    response = client.get(chart_url(html, "layer-chart"))
    assert response.status_code == 200
    return response.json()


def test_the_charts_load_the_run_from_the_public_api(client, run):
    html = get_page(client, run)

    assert chart_url(html, "layer-chart") == f"/api/v1/runs/{run.id}/"
    assert 'id="layer-data"' not in html and 'id="roof-data"' not in html  # no embedded chart data
    assert "roofline-chart" in html


def test_the_chart_data_has_one_layer_per_layer_in_execution_order(client, run):
    data = chart_data(client, get_page(client, run))

    assert [layer["name"] for layer in data["layers"]] == [layer[0] for layer in DLRM_LAYERS]
    assert [layer["op"] for layer in data["layers"]] == [layer[1] for layer in DLRM_LAYERS]
    for layer, (_, _, _, _, median) in zip(data["layers"], DLRM_LAYERS):
        assert layer["time"]["median"] == pytest.approx(median)
        assert layer["time"]["p25"] == pytest.approx(median * 0.97)
        assert layer["time"]["p75"] == pytest.approx(median * 1.04)


def test_the_chart_data_carries_the_bounds_and_the_peaks_for_the_percent_of_roof(client, run):
    data = chart_data(client, get_page(client, run))
    layers = {layer["name"]: layer for layer in data["layers"]}

    assert data["peaks"] == {"gflops": 180.0, "gbs": 23.0, "ridge_point": pytest.approx(180 / 23)}
    assert layers["bot_mlp.1"]["bound"] == "compute" and layers["emb.fused"]["bound"] == "bandwidth"
    # what run.js computes from them (roofline.js percentOfRoof), as the table's % of roof does:
    # 33.5 MFLOP in 262 us at AI 36.5 (above the 7.8 ridge): 128 GFLOP/s of 180.
    mlp = layers["bot_mlp.1"]
    roof = min(data["peaks"]["gflops"], mlp["ai"] * data["peaks"]["gbs"])
    assert mlp["gflops"] / roof * 100 == pytest.approx(33_554_432 / 262e-6 / 1e9 / 180 * 100)


def test_the_table_shows_each_layer_with_its_op_time_and_bound(client, run):
    rows = table_rows(get_page(client, run), "layers")

    assert [row["attrs"]["data-layer"] for row in rows] == [layer[0] for layer in DLRM_LAYERS]
    by_name = {row["attrs"]["data-layer"]: row for row in rows}
    emb = by_name["emb.fused"]["cells"]
    # index, layer, op, sources, time, share, FLOPs, bytes, GFLOP/s, GB/s, AI, bound, roof · threads, % of roof
    assert emb[1:3] == ["emb.fused", "EmbeddingBag"]
    assert emb[3] == "itself"
    assert emb[4] == "1.42 1.38–1.48"
    assert emb[6:8] == ["2.94 M", "11.9 M"]
    assert emb[9] == "8.38"
    assert emb[11] == "bandwidth"
    assert emb[12:14] == ["run peaks", "36%"]  # an old report: no threads or roofs of its own
    gemm = by_name["top_mlp.0"]["cells"]
    assert gemm[11] == "compute"
    assert gemm[13] == "72%"


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


def test_a_quantized_run_shows_its_accuracy_against_fp32(client, run):
    assert 'id="accuracy"' not in get_page(client, run)  # an fp32 run has none
    run.config = {**run.config, "quant": "int8,int8-rowwise-emb"}
    run.accuracy = {"reference": "fp32", "samples": 256, "max_abs_error": 0.00312, "mean_abs_error": 0.000417,
                    "metric": "auc_agreement", "agreement": 0.99871, "fp32_layers": ["top.fc3"], "calibration": None}
    run.save()

    html = get_page(client, run)
    tile = html[html.index('id="accuracy"'):html.index('id="chart-card"')]
    assert "0.00312" in tile and "0.000417" in tile
    assert "AUC agreement" in tile and "0.9987" in tile
    assert "top.fc3" in tile and "256 held-out" in tile and "int8,int8-rowwise-emb" in tile


def test_it_keeps_the_roofline_the_run_was_measured_against(client, machine, benchmark):
    run = make_run(machine, benchmark)
    before = [row["cells"][13] for row in table_rows(get_page(client, run), "layers")]
    machine.peak_gflops, machine.peak_gbs = 90.0, 11.0  # the machine is re-measured later
    machine.save()

    html = get_page(client, run)
    assert [row["cells"][13] for row in table_rows(html, "layers")] == before
    assert "180 GFLOP/s" in html and "23.0 GB/s" in html
    assert chart_data(client, html)["peaks"]["gflops"] == 180.0


def test_a_run_without_layers_renders_an_empty_state_and_no_chart(client, machine):
    run = make_run(machine, make_benchmark("tiny"), layers=[])
    html = get_page(client, run)

    assert "No layers" in html
    assert "<canvas" not in html  # nothing for run.js to fetch


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


def test_a_run_without_measured_peaks_has_null_peaks_in_the_api(client, run):
    run.peak_gflops = run.peak_gbs = None  # an asv import measures no peaks
    run.save(update_fields=["peak_gflops", "peak_gbs"])
    data = chart_data(client, get_page(client, run))

    assert data["peaks"] == {"gflops": None, "gbs": None, "ridge_point": None}
    assert len(data["layers"]) == len(DLRM_LAYERS)


def test_the_run_api_answers_404_for_a_missing_run(client, db):
    response = client.get("/api/v1/runs/999999/")
    assert response.status_code == 404 and "detail" in response.json()


def test_the_run_api_reads_the_run_in_two_queries_however_many_layers(client, run, django_assert_num_queries):
    # the run with its machine/benchmark/project, its layers (the peaks are the run's own columns)
    with django_assert_num_queries(2):
        client.get(f"/api/v1/runs/{run.id}/")
