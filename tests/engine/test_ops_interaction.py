import numpy as np
import pytest

from engine.ops import OPS, ShapeError
from engine.ops import interaction_kernels
from engine.ops.interaction import DotInteraction, interaction_width


def reference_dot_interaction(dense, embeddings):
    """facebookresearch/dlrm interact_features('dot', itself=False) with loops:
    [x, then <z_i, z_j> for i in 1..T, j in 0..i-1] per sample, in float64."""
    feats = [dense, *embeddings]
    batch = dense.shape[0]
    rows = []
    for b in range(batch):
        row = [float(v) for v in dense[b]]
        for i in range(len(feats)):
            for j in range(i):
                row.append(sum(float(p) * float(q) for p, q in zip(feats[i][b], feats[j][b])))
        rows.append(row)
    return np.array(rows)


@pytest.fixture
def features():
    rng = np.random.default_rng(5)
    return [rng.standard_normal((3, 4), dtype=np.float32) for _ in range(5)]  # dense + T=4


def test_it_is_registered():
    assert OPS["DotInteraction"] is DotInteraction


def test_it_matches_the_reference_pair_order(features):
    (y,) = DotInteraction.run(features, {})
    assert y.shape == (3, 4 + 5 * 4 // 2) and y.dtype == np.float32
    np.testing.assert_allclose(y, reference_dot_interaction(features[0], features[1:]), rtol=1e-5, atol=1e-5)


def test_the_output_width_is_the_dlrm_top_mlp_input():
    assert interaction_width(27, 64) == 415  # Criteo Terabyte: 26 tables + dense, dim 64
    assert interaction_width(27, 16) == 367  # Criteo Kaggle
    shapes = [(128, 64)] * 27
    assert DotInteraction.infer_shape(shapes, {}) == ((128, 415),)


def test_flops_count_the_pairs_kept_and_bytes_inputs_plus_output():
    shapes = [(128, 64)] * 27
    assert DotInteraction.flops(shapes, {}) == 2 * 128 * 64 * 351  # 27 * 26 / 2 pairs
    assert DotInteraction.bytes(shapes, [(128, 415)], ["float32"] * 28) == 4 * (27 * 128 * 64 + 128 * 415)


def test_a_mismatched_embedding_is_named():
    names = ("bot.out", "emb0.out", "emb1.out")
    with pytest.raises(ShapeError, match=r"embedding #2 'emb1.out' has shape \(8, 32\) but dense 'bot.out' "
                                         r"has \(8, 64\)"):
        DotInteraction.infer_shape([(8, 64), (8, 64), (8, 32)], {}, names=names)
    with pytest.raises(ShapeError, match=r"dense 'bot.out' has shape \(8, 64, 1\) but must be 2-D"):
        DotInteraction.infer_shape([(8, 64, 1), (8, 64)], {}, names=names[:2])
    with pytest.raises(ShapeError, match="takes 2 to 1024 inputs, got 1"):
        DotInteraction.check_arity(1, 1)


@pytest.mark.skipif(not interaction_kernels.AVAILABLE, reason="numba is not importable: numpy is the only path")
def test_the_compiled_kernel_and_the_numpy_path_agree(monkeypatch):
    rng = np.random.default_rng(3)
    features = [rng.standard_normal((33, 16)).astype(np.float32) for _ in range(9)]
    (compiled,) = DotInteraction.run(features, {})
    monkeypatch.setattr(interaction_kernels, "AVAILABLE", False)
    (numpy_path,) = DotInteraction.run(features, {})
    np.testing.assert_allclose(compiled, numpy_path, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(numpy_path, reference_dot_interaction(features[0], features[1:]), rtol=1e-5, atol=1e-5)
