import numpy as np
import pytest

from engine.executor import run_graph
from engine.ir import GraphError
from engine.models import build_model
from engine.ops import OPS
from engine.profile import profile, time_stats
from engine.roofline import Peaks

SIZES = [64, 128, 128, 32]


@pytest.fixture
def model():
    return build_model("mlp", batch=8, sizes=SIZES)


def test_it_reports_one_layer_per_node_with_sane_stats(model, peaks):
    result = profile(model.graph, model.make_inputs(0), warmup=1, repeats=5, peaks=peaks, settle=0)
    assert [ly.name for ly in result.layers] == [n.name for n in model.graph.nodes]
    assert [ly.index for ly in result.layers] == list(range(len(model.graph.nodes)))
    for ly in result.layers:
        t = ly.time
        assert t.n == 5
        assert 0 < t.min <= t.p25 <= t.median <= t.p75
        assert ly.sources == [ly.name]
        assert ly.gflops == pytest.approx(ly.flops / t.median / 1e9)
        assert ly.gbs == pytest.approx(ly.bytes / t.median / 1e9)
        assert ly.ai == pytest.approx(ly.flops / ly.bytes)
    e2e = result.end_to_end
    assert e2e.n == 5 and e2e.min <= e2e.p25 <= e2e.median <= e2e.p75
    assert e2e.median >= sum(ly.time.min for ly in result.layers)
    assert (result.warmup, result.repeats) == (1, 5)


def test_flops_and_bytes_come_from_the_ops_formulas(model, peaks):
    result = profile(model.graph, model.make_inputs(0), warmup=0, repeats=1, peaks=peaks)
    fc1, relu1 = result.layers[0], result.layers[1]
    assert fc1.flops == 2 * 8 * 64 * 128 + 8 * 128
    assert fc1.bytes == 4 * (8 * 64 + 64 * 128 + 128 + 8 * 128)
    assert relu1.flops == 8 * 128 and relu1.bytes == 2 * 4 * 8 * 128
    assert fc1.flops == OPS["Linear"].flops([(8, 64), (64, 128), (128,)], {})


@pytest.mark.parametrize(("gflops", "gbs"), [(100.0, 10.0), (100.0, 100.0)])
def test_bound_follows_the_ridge_point(model, gflops, gbs):
    peaks = Peaks(gflops, gbs)
    result = profile(model.graph, model.make_inputs(0), warmup=0, repeats=1, peaks=peaks)
    for ly in result.layers:
        assert ly.bound == ("compute" if ly.ai >= gflops / gbs else "bandwidth")
    # fc2 (8x128 @ 128x128) has AI ~3.5: under a ridge of 10, over a ridge of 1
    fc2 = result.layers[2]
    assert 1 < fc2.ai < 10
    assert fc2.bound == ("bandwidth" if peaks.ridge == 10 else "compute")
    assert {ly.bound for ly in result.layers if ly.op == "Relu"} == {"bandwidth"}


def test_outputs_equal_an_untimed_run(model, peaks):
    inputs = model.make_inputs(3)
    result = profile(model.graph, inputs, warmup=0, repeats=2, peaks=peaks)
    np.testing.assert_array_equal(result.outputs["y"], run_graph(model.graph, inputs)["y"])


def test_bad_counts_and_inputs_are_refused(model, peaks):
    with pytest.raises(ValueError, match="repeats must be >= 1, got 0"):
        profile(model.graph, model.make_inputs(0), warmup=0, repeats=0, peaks=peaks)
    with pytest.raises(ValueError, match="warmup must be >= 0, got -1"):
        profile(model.graph, model.make_inputs(0), warmup=-1, repeats=1, peaks=peaks)
    with pytest.raises(GraphError, match="input 'x' is float32"):
        profile(model.graph, {"x": np.zeros((9, 64), np.float32)}, warmup=0, repeats=1, peaks=peaks)


def test_time_stats_are_percentiles_in_seconds():
    stats = time_stats([4000, 1000, 3000, 2000, 5000])
    assert (stats.min, stats.p25, stats.median, stats.p75, stats.n) == (1e-6, 2e-6, 3e-6, 4e-6, 5)
