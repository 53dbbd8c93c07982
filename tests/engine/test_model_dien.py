import re

import numpy as np
import pytest

from engine.executor import run_graph
from engine.ir import Graph, model_version, validate
from engine.models import MODELS, build_model
from engine.profile import profile
from tests.engine import seq_reference


@pytest.fixture(scope="module")
def small():
    return build_model("dien_small")


def test_both_sizes_are_registered_with_their_params():
    assert MODELS["dien"].resolve({}) == {"batch": 128, "seq_len": 50, "rows": 200_000, "dim": 64, "seed": 0}
    assert set(MODELS["dien_small"].resolve({})) == {"batch", "seq_len", "rows", "dim", "seed"}


def test_the_output_equals_the_numpy_reimplementation(small):
    feeds = small.make_inputs(0)
    assert feeds["seq_lens"].min() < 6, "the seeded inputs should pad at least one row"
    (prob,) = run_graph(small.graph, feeds).values()
    expected = seq_reference.dien(small.graph.initializers, feeds)
    assert prob.shape == (4, 1) and prob.dtype == np.float32
    np.testing.assert_allclose(prob, expected, rtol=1e-4, atol=1e-6)
    assert np.isfinite(prob).all() and ((prob > 0) & (prob < 1)).all()


def test_the_recurrent_layers_are_gru_then_augru_fed_by_a_masked_softmax(small):
    ops = {n.name: n for n in small.graph.nodes}
    assert ops["extractor"].op == "GRU" and ops["evolution"].op == "AUGRU"
    assert ops["evolution"].inputs[:2] == ("extractor.states", "att.softmax")
    assert ops["att.softmax"].op == "Softmax" and ops["extractor"].inputs[-1] == "seq_lens"
    assert "evolution.last" in ops["top.input"].inputs


def test_attention_weights_sum_to_one_over_valid_steps_only(small):
    feeds = small.make_inputs(1)
    g = small.graph
    probe = Graph(g.name, g.inputs, g.initializers, g.nodes, ("att.softmax",))
    alpha = run_graph(probe, feeds)["att.softmax"]
    np.testing.assert_allclose(alpha.sum(axis=1), 1.0, rtol=1e-5)
    assert not alpha[feeds["seq_mask"] == 0].any()


def test_it_profiles_the_recurrent_layers_with_their_flops(small, peaks):
    result = profile(small.graph, small.make_inputs(0), warmup=0, repeats=1, peaks=peaks)
    by_name = {ly.name: ly for ly in result.layers}
    b, t, d = 4, 6, 8
    gemms = 2 * b * t * d * 3 * d * 2
    assert by_name["extractor"].flops == gemms + 26 * b * t * d
    assert by_name["evolution"].flops == gemms + 28 * b * t * d


def test_the_default_size_builds_and_validates():
    model = build_model("dien", rows=1000)
    validate(model.graph)
    feeds = model.make_inputs(0)
    assert feeds["seq_lens"].min() >= 1 and feeds["seq_lens"].max() <= 50


def test_model_version_is_stable_and_ignores_the_seed():
    a = model_version(build_model("dien_small").graph)
    assert re.fullmatch(r"[0-9a-f]{20}", a)
    assert model_version(build_model("dien_small", seed=9).graph) == a
    assert model_version(build_model("dien_small", dim=4).graph) != a
    assert a != model_version(build_model("din_small").graph)
