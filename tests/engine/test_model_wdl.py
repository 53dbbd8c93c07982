import numpy as np
import pytest

from engine.executor import run_graph
from engine.ir import model_version, validate
from engine.models import MODELS, build_model
from engine.models.wdl import wide_ids


def numpy_bag_sum(table, indices, offsets):
    ends = np.append(offsets[1:], len(indices))
    return np.stack([table[indices[s:e]].sum(axis=0) for s, e in zip(offsets, ends)])


def numpy_wdl(w, feeds):
    """The forward pass written out in numpy from the same weights."""
    dense = feeds["dense"]
    wide = (numpy_bag_sum(w["wide.weight"], feeds["wide.indices"], feeds["wide.offsets"])
            + dense @ w["wide.dense.weight"] + w["wide.dense.bias"])
    h = np.concatenate([dense] + [
        numpy_bag_sum(w[f"emb{k}.weight"], feeds[f"sparse{k}.indices"], feeds[f"sparse{k}.offsets"])
        for k in range(26)], axis=1)
    for i in (1, 2, 3):
        h = np.maximum(h @ w[f"deep.fc{i}.weight"] + w[f"deep.fc{i}.bias"], 0)
    deep = h @ w["deep.fc4.weight"] + w["deep.fc4.bias"]
    return 1 / (1 + np.exp(-(wide + deep)))


@pytest.fixture(scope="module")
def small():
    return build_model("wdl_small")


def test_both_variants_are_registered():
    assert {"wdl", "wdl_small"} <= set(MODELS)
    assert MODELS["wdl"].resolve({}) == {"batch": 128, "rows": 100_000, "pooling": 4, "seed": 0}


def test_the_graph_has_a_wide_linear_part_and_a_deep_mlp(small):
    g = small.graph
    validate(g)
    w = g.initializers
    assert w["wide.weight"].shape == (4000, 1) and w["wide.dense.weight"].shape == (13, 1)
    assert [w[f"deep.fc{i}.weight"].shape for i in (1, 2, 3, 4)] == [(845, 1024), (1024, 512), (512, 256), (256, 1)]
    assert [n.op for n in g.nodes].count("EmbeddingBag") == 27
    assert g.node("prob").op == "Sigmoid" and g.node("logit").inputs == ("wide.out", "deep.fc4.out")


def test_it_runs_to_probabilities_equal_to_a_numpy_forward_pass(small):
    feeds = small.make_inputs(0)
    (y,) = run_graph(small.graph, feeds).values()
    assert y.shape == (8, 1) and y.dtype == np.float32
    assert np.isfinite(y).all() and ((y >= 0) & (y <= 1)).all()
    np.testing.assert_allclose(y, numpy_wdl(small.graph.initializers, feeds), rtol=1e-4, atol=1e-6)


def test_wide_ids_hold_each_field_and_each_adjacent_cross_in_the_hash_space():
    firsts = np.array([[1, 2, 3], [1, 2, 4]], dtype=np.int64)
    ids = wide_ids(firsts, 997).reshape(2, 5)
    assert ids.min() >= 0 and ids.max() < 997
    np.testing.assert_array_equal(ids[0, :2], ids[1, :2])  # same fields 0 and 1, and their cross
    np.testing.assert_array_equal(ids[0, 3], ids[1, 3])
    assert ids[0, 2] != ids[1, 2] and ids[0, 4] != ids[1, 4]  # field 2 differs, so does its cross


def test_the_version_is_stable_and_ignores_weight_values():
    a = model_version(build_model("wdl_small").graph)
    assert a == model_version(build_model("wdl_small", seed=3).graph)
    assert a != model_version(build_model("wdl_small", batch=4).graph)
