import numpy as np
import pytest

from engine.ir import Graph
from engine.models import build_model
from engine.quant.accuracy import Evaluator
from engine.quant.modes import QuantError, apply_quant
from engine.quant.selective import Budget, sensitivity_sweep

SEEDS = (1001, 1002, 1003)
MODE = "int8-per-tensor"


def _with(graph: Graph, name: str, array: np.ndarray) -> Graph:
    return Graph(graph.name, graph.inputs, {**graph.initializers, name: array}, graph.nodes, graph.outputs)


@pytest.fixture(scope="module")
def planted():
    """An mlp whose fc2 has one weight 1000x the others, on an input feature
    that is always 0 (fc1 feeds it only a negative bias before the Relu): fp32
    never feels that weight, but with one int8 scale for the whole tensor
    every other weight of fc2 rounds to zero."""
    model = build_model("mlp", batch=16, sizes=[32, 64, 64, 8])
    inits = model.graph.initializers
    w1, b1, w2 = inits["fc1.weight"].copy(), inits["fc1.bias"].copy(), inits["fc2.weight"].copy()
    w1[:, 0], b1[0] = 0.0, -1.0
    w2[0, 0] = 1000 * np.abs(w2).max()
    graph = _with(_with(_with(model.graph, "fc1.weight", w1), "fc1.bias", b1), "fc2.weight", w2)
    return model, graph


def _error(model, graph, keep):
    quantized = apply_quant(graph, MODE, keep_fp32=keep).graph
    return Evaluator("mlp", graph, model.make_inputs, SEEDS).delta(quantized).max_abs_error


def test_the_sweep_keeps_exactly_the_planted_sensitive_layer_in_fp32(planted):
    model, graph = planted
    rest = _error(model, graph, ["fc2"])  # everything but fc2 quantized
    only_fc2 = _error(model, graph, ["fc1", "fc3"])
    budget = Budget(max_abs_error=2 * rest)
    assert only_fc2 > budget.max_abs_error  # fc2 alone breaks the budget
    result = sensitivity_sweep("mlp", graph, MODE, model.make_inputs, budget, accuracy_seeds=SEEDS)
    assert [s.layer for s in result.sensitivities][0] == "fc2"
    assert {s.layer for s in result.sensitivities} == {"fc1", "fc2", "fc3"}
    assert result.fp32_layers == ["fc2"] and result.met
    assert result.final.max_abs_error == pytest.approx(rest)
    assert result.steps[0].fp32_layers == () and result.steps[0].delta.max_abs_error > budget.max_abs_error


def test_a_loose_budget_keeps_nothing_in_fp32(planted):
    model, graph = planted
    result = sensitivity_sweep("mlp", graph, MODE, model.make_inputs, Budget(max_abs_error=1e9),
                               accuracy_seeds=SEEDS)
    assert result.fp32_layers == [] and result.met and len(result.steps) == 1


def test_a_zero_budget_ends_with_every_layer_in_fp32(planted):
    model, graph = planted
    result = sensitivity_sweep("mlp", graph, MODE, model.make_inputs, Budget(max_abs_error=0.0),
                               accuracy_seeds=SEEDS)
    assert sorted(result.fp32_layers) == ["fc1", "fc2", "fc3"] and result.met
    assert result.final.max_abs_error == 0.0


def test_a_budget_fp32_itself_misses_is_reported_unmet():
    model = build_model("mlp", batch=4, sizes=[8, 8, 2])
    reference = _with(model.graph, "fc2.bias", model.graph.initializers["fc2.bias"] + np.float32(1.0))
    result = sensitivity_sweep("mlp", model.graph, "int8", model.make_inputs, Budget(max_abs_error=0.5),
                               accuracy_seeds=SEEDS, reference=reference)
    assert not result.met and sorted(result.fp32_layers) == ["fc1", "fc2"]


def test_agreement_budgets_rank_by_agreement_lost():
    model = build_model("dlrm_small")
    result = sensitivity_sweep("dlrm_small", model.graph, "int8", model.make_inputs,
                               Budget(min_agreement=0.0), accuracy_seeds=SEEDS)
    assert result.met and result.fp32_layers == []
    losses = [1 - s.delta.agreement for s in result.sensitivities]
    assert losses == sorted(losses, reverse=True)


def test_a_budget_needs_a_bound():
    with pytest.raises(QuantError, match="--max-abs-error and/or --min-agreement"):
        Budget()
    with pytest.raises(QuantError, match=r"\[0, 1\]"):
        Budget(min_agreement=1.5)


def test_an_agreement_budget_on_a_model_without_a_metric_is_refused():
    model = build_model("mlp", batch=4, sizes=[8, 8, 3])
    with pytest.raises(QuantError, match="no agreement metric"):
        sensitivity_sweep("mlp", model.graph, "int8", model.make_inputs, Budget(min_agreement=0.9),
                          accuracy_seeds=SEEDS)


def test_a_model_with_nothing_to_quantize_sweeps_to_nothing():
    model = build_model("mlp", batch=4, sizes=[8, 2])
    result = sensitivity_sweep("mlp", model.graph, "int8-rowwise-emb", model.make_inputs,
                               Budget(max_abs_error=0.1), accuracy_seeds=SEEDS)
    assert result.sensitivities == [] and result.fp32_layers == [] and result.met
    with pytest.raises(QuantError, match="other than 'none'"):
        sensitivity_sweep("mlp", model.graph, "none", model.make_inputs, Budget(max_abs_error=0.1))
