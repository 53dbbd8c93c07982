import numpy as np
import pytest

from engine.benchmark import INPUT_SEED
from engine.executor import run_graph
from engine.ir import Graph
from engine.models import build_model
from engine.quant.accuracy import (
    ACCURACY_SEEDS,
    AUC,
    CALIBRATION_SEEDS,
    NO_METRIC,
    TOP1,
    accuracy_delta,
    auc_agreement,
    calibration_inputs,
    compare_outputs,
    metric_for,
    top1_agreement,
)


def _with_weight(graph: Graph, name: str, array: np.ndarray) -> Graph:
    return Graph(graph.name, graph.inputs, {**graph.initializers, name: array}, graph.nodes, graph.outputs)


def test_the_auc_of_the_reference_against_itself_is_one_and_of_its_reverse_zero():
    ref = np.random.default_rng(0).random(50)
    assert auc_agreement(ref, ref) == 1.0
    assert auc_agreement(ref, np.exp(3 * ref)) == 1.0  # only the order counts
    assert auc_agreement(ref, -ref) == 0.0


def test_auc_counts_pairs_across_the_median_that_swap_order():
    ref = np.array([0.1, 0.2, 0.3, 0.4])  # labels 0 0 1 1
    got = np.array([0.1, 0.35, 0.3, 0.4])  # 0.35 now above the positive 0.3: 1 of 4 pairs swapped
    assert auc_agreement(ref, got) == pytest.approx(0.75)
    tied = np.array([0.1, 0.3, 0.3, 0.4])  # a tie across the median counts half
    assert auc_agreement(ref, tied) == pytest.approx(0.875)


def test_auc_is_undefined_when_the_reference_has_one_value():
    assert auc_agreement(np.full(8, 0.5), np.arange(8.0)) is None


def test_top1_agreement_is_the_share_of_samples_with_the_same_argmax():
    ref = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 2.0, 0.0]])
    got = np.array([[1.0, 0.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 2.0, 0.0]])
    assert top1_agreement(ref, got) == 0.75


@pytest.mark.parametrize("name, shape, metric", [
    ("dlrm", (128, 1), AUC), ("dlrm_small", (8, 1), AUC), ("wdl_small", (8, 1), AUC), ("din", (4, 1), AUC),
    ("dien_small", (4, 1), AUC), ("resnet_small", (4, 10), TOP1), ("transformer_small", (2, 16, 64), NO_METRIC),
    ("mlp", (64, 256), NO_METRIC), ("mlp", (64, 1), AUC), ("onnx:ctr", (32,), AUC),
])
def test_each_model_gets_the_metric_that_fits_its_output(name, shape, metric):
    assert metric_for(name, shape) == metric


def test_the_zoo_outputs_match_the_metric_table():
    for name, metric in (("dlrm_small", AUC), ("wdl_small", AUC), ("din_small", AUC), ("dien_small", AUC),
                         ("resnet_small", TOP1), ("transformer_small", NO_METRIC)):
        model = build_model(name)
        out = run_graph(model.graph, model.make_inputs(0))[model.graph.outputs[0]]
        assert metric_for(name, out.shape) == metric, name
        if metric == AUC:
            assert out.shape[1:] == (1,) and 0 <= out.min() and out.max() <= 1  # one probability per sample


def test_held_out_seeds_are_neither_the_timing_nor_the_calibration_seeds():
    assert INPUT_SEED not in ACCURACY_SEEDS and INPUT_SEED not in CALIBRATION_SEEDS
    assert not set(ACCURACY_SEEDS) & set(CALIBRATION_SEEDS)


def test_a_graph_against_itself_has_no_error_and_full_agreement():
    model = build_model("dlrm_small")
    delta = accuracy_delta(model.name, model.graph, model.graph, model.make_inputs, seeds=(1001, 1002))
    assert (delta.max_abs_error, delta.mean_abs_error) == (0.0, 0.0)
    assert delta.metric == AUC and delta.agreement == 1.0
    assert delta.samples == 2 * model.params["batch"]


def test_the_errors_are_those_of_a_perturbed_weight():
    model = build_model("mlp", batch=16, sizes=[8, 4])  # one Linear: y = x @ W + b
    bias = model.graph.initializers["fc1.bias"]
    shifted = _with_weight(model.graph, "fc1.bias", bias + np.float32(0.25) * (np.arange(4) == 2))
    delta = accuracy_delta("mlp", model.graph, shifted, model.make_inputs, seeds=(1001,))
    assert delta.max_abs_error == pytest.approx(0.25, rel=1e-5)
    assert delta.mean_abs_error == pytest.approx(0.25 / 4, rel=1e-5)  # one of four outputs moved
    assert delta.metric == NO_METRIC and delta.agreement is None


def test_a_report_field_needs_the_same_outputs():
    model = build_model("mlp", batch=2, sizes=[4, 2])
    out = run_graph(model.graph, model.make_inputs(1))
    with pytest.raises(ValueError):
        compare_outputs("mlp", model.graph, [out, out], [out])


def test_the_report_field_has_the_platform_schema():
    model = build_model("resnet_small", batch=2)
    delta = accuracy_delta(model.name, model.graph, model.graph, model.make_inputs, seeds=(1001,))
    acc = delta.to_report(["head.fc"], None)
    assert (acc.reference, acc.metric, acc.agreement, acc.fp32_layers, acc.calibration, acc.samples) == (
        "fp32", TOP1, 1.0, ["head.fc"], None, 2)


@pytest.mark.parametrize("batch, batches", [(8, 64), (100, 6), (256, 4), (4096, 4)])
def test_calibration_takes_enough_batches_for_512_samples(batch, batches):
    seen = []

    def make_inputs(seed):
        seen.append(seed)
        return {"x": np.zeros((batch, 3), dtype=np.float32)}

    assert len(calibration_inputs(make_inputs)) == batches
    assert seen == list(CALIBRATION_SEEDS[:batches])
