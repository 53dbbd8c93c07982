import numpy as np
import pytest

from engine.executor import run_graph
from engine.ir import validate
from engine.models.base import GraphBuilder
from engine.models.sequence_blocks import (
    PROFILE_FIELDS,
    attention_scores,
    behaviour_inputs,
    masked_softmax,
    zipf_ids,
)
from tests.engine import seq_reference

B, T, D = 3, 5, 4


@pytest.fixture(scope="module")
def unit():
    """DIN's activation unit and a masked softmax over its scores, alone in a graph."""
    g = GraphBuilder("unit", seed=4)
    q = g.input("q", "float32", (B, D))
    k = g.input("k", "float32", (B, T, D))
    mask = g.input("mask", "float32", (B, T))
    scores = attention_scores(g, "att", q, k, B, T, D)
    alpha = masked_softmax(g, "att", scores, mask)
    graph = g.graph((scores, alpha))
    validate(graph)
    rng = np.random.default_rng(8)
    lens = np.array([5, 2, 1])
    feeds = {
        "q": rng.standard_normal((B, D), dtype=np.float32),
        "k": rng.standard_normal((B, T, D), dtype=np.float32),
        "mask": (np.arange(T)[None, :] < lens[:, None]).astype(np.float32),
    }
    return graph, feeds, lens


def test_scores_equal_the_per_position_mlp_reference(unit):
    graph, feeds, _ = unit
    got = run_graph(graph, feeds)["att.scores"]
    expected = seq_reference.attention_scores(graph.initializers, feeds["q"].astype(np.float64), feeds["k"])
    assert got.shape == (B, T)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_the_masked_softmax_weights_only_valid_steps(unit):
    graph, feeds, lens = unit
    out = run_graph(graph, feeds)
    expected = seq_reference.masked_softmax(out["att.scores"].astype(np.float64), lens)
    np.testing.assert_allclose(out["att.softmax"], expected, rtol=1e-5, atol=1e-7)
    assert out["att.softmax"][2, 0] == 1.0 and not out["att.softmax"][2, 1:].any()


def test_each_piece_is_its_own_layer_of_a_registered_op(unit):
    graph, _, _ = unit
    assert [n.op for n in graph.nodes] == [
        "Reshape", "Gather", "Sub", "Mul", "Concat",
        "Linear", "Sigmoid", "Linear", "Sigmoid", "Linear", "Reshape",
        "Sub", "Mul", "Add", "Softmax",
    ]
    assert graph.initializers["att.fc1.weight"].shape == (4 * D, 80)


def test_zipf_ids_stay_in_range_and_favour_a_few_items():
    rng = np.random.default_rng(0)
    ids = zipf_ids(rng, 1000, (20_000,))
    assert ids.dtype == np.int64 and ids.min() >= 0 and ids.max() < 1000
    counts = np.sort(np.bincount(ids, minlength=1000))[::-1]
    assert counts[:10].sum() > 0.2 * ids.size  # the ten hottest items take a fifth of the traffic
    assert (counts > 0).sum() > 300  # and the tail is still visited


def test_behaviour_inputs_are_left_aligned_with_lengths_one_to_steps():
    feeds = behaviour_inputs(np.random.default_rng(1), 64, 10, 500)
    lens, mask, hist = feeds["seq_lens"], feeds["seq_mask"], feeds["hist_ids"]
    assert lens.min() >= 1 and lens.max() <= 10 and len(set(lens.tolist())) > 3
    np.testing.assert_array_equal(mask.sum(axis=1), lens)
    np.testing.assert_array_equal(mask, np.arange(10)[None, :] < lens[:, None])
    assert not hist[mask == 0].any() and mask.dtype == np.float32
    offsets = np.cumsum((0,) + PROFILE_FIELDS[:-1])
    field = feeds["user_profile"] - offsets
    assert (field >= 0).all() and (field < np.array(PROFILE_FIELDS)).all()
