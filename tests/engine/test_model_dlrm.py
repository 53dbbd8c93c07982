import numpy as np
import pytest

from engine.executor import run_graph
from engine.ir import model_version, validate
from engine.models import MODELS, ModelParamError, build_model
from engine.models.dlrm import CRITEO_KAGGLE_TABLE_SIZES, bag_lengths, zipf_ids


def numpy_bag_sum(table, indices, offsets):
    ends = np.append(offsets[1:], len(indices))
    return np.stack([table[indices[s:e]].sum(axis=0) for s, e in zip(offsets, ends)])


def numpy_dlrm(w, feeds):
    """The forward pass written out in numpy from the same weights."""
    def layer(x, name, act):
        y = x @ w[f"{name}.weight"] + w[f"{name}.bias"]
        return {"relu": np.maximum(y, 0), "sigmoid": 1 / (1 + np.exp(-y))}[act]

    x = feeds["dense"]
    for i in (1, 2, 3):
        x = layer(x, f"bot.fc{i}", "relu")
    feats = [x] + [numpy_bag_sum(w[f"emb{k}.weight"], feeds[f"sparse{k}.indices"], feeds[f"sparse{k}.offsets"])
                   for k in range(26)]
    pairs = [np.sum(feats[i] * feats[j], axis=1) for i in range(27) for j in range(i)]
    h = np.concatenate([x, np.stack(pairs, axis=1)], axis=1)
    h = layer(h, "top.fc1", "relu")
    h = layer(h, "top.fc2", "relu")
    return layer(h, "top.fc3", "sigmoid")


@pytest.fixture(scope="module")
def small():
    return build_model("dlrm_small")


def test_both_variants_are_registered_with_documented_defaults():
    assert {"dlrm", "dlrm_small"} <= set(MODELS)
    assert MODELS["dlrm"].resolve({}) == {"batch": 128, "rows": 100_000, "pooling": 20, "seed": 0}


def test_the_graph_has_the_criteo_terabyte_shape(small):
    g = small.graph
    validate(g)
    ops = [n.op for n in g.nodes]
    assert ops.count("EmbeddingBag") == 26 and ops.count("DotInteraction") == 1
    assert ops[-1] == "Sigmoid"
    w = g.initializers
    assert [w[f"bot.fc{i}.weight"].shape for i in (1, 2, 3)] == [(13, 512), (512, 256), (256, 64)]
    assert [w[f"top.fc{i}.weight"].shape for i in (1, 2, 3)] == [(415, 512), (512, 256), (256, 1)]
    assert [w[f"emb{k}.weight"].shape[0] for k in range(26)] == [min(s, 1000) for s in CRITEO_KAGGLE_TABLE_SIZES]
    assert all(w[f"emb{k}.weight"].shape[1] == 64 for k in range(26))


def test_it_runs_to_probabilities_equal_to_a_numpy_forward_pass(small):
    feeds = small.make_inputs(0)
    (y,) = run_graph(small.graph, feeds).values()
    assert y.shape == (8, 1) and y.dtype == np.float32
    assert np.isfinite(y).all() and ((y >= 0) & (y <= 1)).all()
    np.testing.assert_allclose(y, numpy_dlrm(small.graph.initializers, feeds), rtol=1e-4, atol=1e-6)


def test_inputs_have_variable_bags_and_zipf_ids_within_each_table(small):
    feeds = small.make_inputs(3)
    sizes = [min(s, 1000) for s in CRITEO_KAGGLE_TABLE_SIZES]
    for k, rows in enumerate(sizes):
        idx, off = feeds[f"sparse{k}.indices"], feeds[f"sparse{k}.offsets"]
        assert idx.dtype == off.dtype == np.int64
        assert 0 <= idx.min() and idx.max() < rows
        lengths = np.diff(np.append(off, len(idx)))
        assert off[0] == 0 and lengths.min() >= 1 and lengths.max() <= 4
    lengths = np.diff(np.append(feeds["sparse0.offsets"], len(feeds["sparse0.indices"])))
    assert len(set(lengths.tolist())) > 1


def test_zipf_ids_are_skewed_and_bag_lengths_hit_their_total():
    rng = np.random.default_rng(0)
    ids = zipf_ids(rng, 20_000, 100_000)
    counts = np.sort(np.bincount(ids, minlength=100_000))[::-1]
    assert counts[:100].sum() > 0.2 * ids.size  # a hot head ...
    assert np.unique(ids).size > 2_000  # ... and a long tail
    lengths = bag_lengths(rng, 64, 64 * 7, 13)
    assert lengths.sum() == 64 * 7 and lengths.min() >= 1 and lengths.max() <= 13
    with pytest.raises(ValueError, match="cannot split 10 ids into 4 bags of 1..2"):
        bag_lengths(rng, 4, 10, 2)


def test_weights_and_inputs_are_seeded_and_the_version_is_stable():
    a, b = build_model("dlrm_small"), build_model("dlrm_small", seed=1)
    assert model_version(a.graph) == model_version(build_model("dlrm_small").graph) == model_version(b.graph)
    assert not np.array_equal(a.graph.initializers["emb0.weight"], b.graph.initializers["emb0.weight"])
    for key, value in a.make_inputs(2).items():
        np.testing.assert_array_equal(value, build_model("dlrm_small").make_inputs(2)[key])
    assert not np.array_equal(a.make_inputs(2)["sparse3.indices"], a.make_inputs(5)["sparse3.indices"])
    assert model_version(build_model("dlrm_small", rows=500).graph) != model_version(a.graph)


def test_a_bad_param_is_named():
    with pytest.raises(ModelParamError, match="param pooling: must be >= 1, got 0"):
        build_model("dlrm_small", pooling=0)
