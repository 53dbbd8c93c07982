import numpy as np
import pytest

from engine.ir import GraphError
from engine.ops import OPS, ShapeError
from engine.ops import embedding as embedding_module
from engine.ops import embedding_kernels
from engine.ops.embedding import EmbeddingBag, embedding_bag

needs_numba = pytest.mark.skipif(not embedding_kernels.AVAILABLE, reason="numba is not installed")


def reference_embedding_bag(weight, indices, offsets, mode):
    """torch.nn.EmbeddingBag semantics with plain loops, in float64."""
    batch, dim = len(offsets), weight.shape[1]
    ends = list(offsets[1:]) + [len(indices)]
    out = np.zeros((batch, dim))
    for b in range(batch):
        ids = indices[offsets[b]:ends[b]]
        for i in ids:
            out[b] += weight[i].astype(np.float64)
        if mode == "mean" and len(ids):
            out[b] /= len(ids)
    return out


@pytest.fixture
def bags():
    rng = np.random.default_rng(11)
    weight = rng.standard_normal((50, 6), dtype=np.float32)
    lengths = np.array([3, 0, 1, 5, 0, 2])  # empty bags in the middle and variable pooling
    indices = rng.integers(0, 50, lengths.sum()).astype(np.int64)
    indices[:2] = [7, 7]  # a repeated id counts twice
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return weight, indices, offsets


def test_it_is_registered():
    assert OPS["EmbeddingBag"] is EmbeddingBag


@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_it_matches_the_loop_reference_with_empty_bags(path, bags, mode):
    weight, indices, offsets = bags
    (y,) = EmbeddingBag.run([weight, indices, offsets], {"mode": mode})
    assert y.shape == (6, 6) and y.dtype == np.float32
    np.testing.assert_allclose(y, reference_embedding_bag(weight, indices, offsets, mode), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(y[[1, 4]], 0.0)


def test_trailing_empty_bags_give_zeros(path, bags):
    weight, indices, _ = bags
    offsets = np.array([0, 4, len(indices), len(indices)], dtype=np.int64)
    (y,) = EmbeddingBag.run([weight, indices, offsets], {"mode": "sum"})
    np.testing.assert_allclose(y, reference_embedding_bag(weight, indices, offsets, "sum"), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(y[2:], 0.0)


@needs_numba
@pytest.mark.parametrize("threads", [2, 3, 7])
def test_splitting_the_bags_over_threads_gives_the_same_result(threads, monkeypatch):
    rng = np.random.default_rng(3)
    weight = rng.standard_normal((2000, 16), dtype=np.float32)
    lengths = rng.integers(0, 30, 800)
    lengths[100:140] = 0  # a run of empty bags near a split point
    indices = rng.integers(0, 2000, lengths.sum()).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    monkeypatch.setattr(embedding_kernels, "MIN_IDS_PER_THREAD", 1)
    one, bad_one = embedding_kernels.pool_bags(weight, indices, offsets, True, threads=1)
    split, bad_split = embedding_kernels.pool_bags(weight, indices, offsets, True, threads=threads)
    assert bad_one == bad_split == -1
    np.testing.assert_array_equal(split, one)
    np.testing.assert_allclose(split, reference_embedding_bag(weight, indices, offsets, "mean"), rtol=1e-5, atol=1e-6)


@needs_numba
def test_split_bags_report_the_first_out_of_range_id(monkeypatch):
    weight = np.ones((10, 4), dtype=np.float32)
    indices = np.zeros(4000, dtype=np.int64)
    indices[[1500, 3900]] = [10, -3]  # one bad id in each half
    offsets = np.arange(0, 4000, 4, dtype=np.int64)
    monkeypatch.setattr(embedding_kernels, "MIN_IDS_PER_THREAD", 1)
    _, bad = embedding_kernels.pool_bags(weight, indices, offsets, False, threads=2)
    assert bad == 1500
    with pytest.raises(ValueError, match="id 10 at position 1500 is out of range"):
        embedding_bag(weight, indices, offsets)


@needs_numba
def test_the_thread_count_follows_the_blas_limit():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        assert embedding_kernels.threads_allowed() == 1


@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_the_public_scipy_fallback_gives_the_same_result(bags, mode, monkeypatch):
    weight, indices, offsets = bags
    fast = embedding_module.embedding_bag_numpy(weight, indices, offsets, mode)
    monkeypatch.setattr(embedding_module, "_csr_matvecs", None)
    slow = embedding_module.embedding_bag_numpy(weight, indices, offsets, mode)
    assert slow.dtype == np.float32 and slow.shape == fast.shape
    np.testing.assert_allclose(slow, fast, rtol=1e-6, atol=1e-7)


def test_both_paths_give_bit_identical_results(bags, monkeypatch):
    weight, indices, offsets = bags
    rng = np.random.default_rng(5)
    big = rng.standard_normal((5000, 64), dtype=np.float32)
    lengths = rng.integers(0, 40, 300)
    ids = rng.integers(0, 5000, lengths.sum()).astype(np.int64)
    offs = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    for w, i, o in ((weight, indices, offsets), (big, ids, offs)):
        for mode in ("sum", "mean"):
            fast = embedding_bag(w, i, o, mode)
            with monkeypatch.context() as m:
                m.setattr(embedding_kernels, "AVAILABLE", False)
                slow = embedding_bag(w, i, o, mode)
            np.testing.assert_array_equal(fast, slow)
            np.testing.assert_allclose(fast, reference_embedding_bag(w, i, o, mode), rtol=1e-5, atol=1e-5)


def test_it_does_not_modify_its_inputs(path, bags):
    copies = [a.copy() for a in bags]
    EmbeddingBag.run(list(bags), {"mode": "mean"})
    for before, after in zip(copies, bags):
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("bad_id", [50, -1])
def test_an_out_of_range_id_names_the_table_the_id_and_the_row_count(path, bags, bad_id):
    weight, indices, offsets = bags
    indices = indices.copy()
    indices[4] = bad_id
    with pytest.raises(ValueError, match=rf"EmbeddingBag indices: id {bad_id} at position 4 is out of range "
                                         r"for the weight table of 50 rows \(valid ids 0\.\.49\)"):
        EmbeddingBag.run([weight, indices, offsets], {"mode": "sum"})


@pytest.mark.parametrize(
    ("offsets", "message"),
    [
        ([1, 3], r"the first bag must start at 0, got offsets\[0\] = 1"),
        ([0, 5, 3], r"must be non-decreasing, but offsets\[1\] = 5 > offsets\[2\] = 3"),
        ([0, 12], "the last bag starts at 12, past the end of the 11 indices"),
    ],
)
def test_bad_offsets_are_explained(path, bags, offsets, message):
    weight, indices, _ = bags
    with pytest.raises(ValueError, match=message):
        EmbeddingBag.run([weight, indices, np.array(offsets, dtype=np.int64)], {"mode": "sum"})


def test_shape_and_dtype_checks_name_the_tensor():
    assert EmbeddingBag.infer_shape([(1000, 16), (37,), (8,)], {"mode": "sum"}) == ((8, 16),)
    with pytest.raises(ShapeError, match=r"weight 'emb0.weight' has shape \(1000,\) but must be 2-D"):
        EmbeddingBag.infer_shape([(1000,), (37,), (8,)], {}, names=("emb0.weight", "ids", "offs"))
    with pytest.raises(ShapeError, match=r"offsets 'offs' has shape \(8, 1\) but must be 1-D"):
        EmbeddingBag.infer_shape([(1000, 16), (37,), (8, 1)], {}, names=("emb0.weight", "ids", "offs"))
    with pytest.raises(ShapeError, match="indices 'ids' has dtype int32 but must be int64"):
        EmbeddingBag.infer_dtype(["float32", "int32", "int64"], {}, names=("emb0.weight", "ids", "offs"))
    with pytest.raises(ShapeError, match="attribute mode is 'max'"):
        EmbeddingBag.infer_shape([(1000, 16), (37,), (8,)], {"mode": "max"})


def test_flops_count_one_add_per_gathered_element_and_a_divide_per_output_for_mean():
    shapes = [(100_000, 64), (5000,), (256,)]
    assert EmbeddingBag.flops(shapes, {"mode": "sum"}) == 5000 * 64
    assert EmbeddingBag.flops(shapes, {"mode": "mean"}) == 5000 * 64 + 256 * 64


def test_bytes_count_only_the_gathered_rows_not_the_whole_table():
    got = EmbeddingBag.bytes([(100_000, 64), (5000,), (256,)], [(256, 64)],
                             ["float32", "int64", "int64", "float32"])
    assert got == 5000 * 8 + 256 * 8 + 5000 * 64 * 4 + 256 * 64 * 4


def test_a_graph_refuses_float_indices_naming_the_node():
    from engine.ir import Graph, Node, TensorSpec, validate

    g = Graph(
        "g", (TensorSpec("ids", "float32", (5,)), TensorSpec("offs", "int64", (2,))),
        {"emb.weight": np.zeros((10, 4), np.float32)},
        (Node("emb", "EmbeddingBag", ("emb.weight", "ids", "offs"), ("y",)),), ("y",),
    )
    with pytest.raises(GraphError, match=r"node 'emb' \(EmbeddingBag\): indices 'ids' has dtype float32"):
        validate(g)


def test_the_engine_pools_with_numpy_when_numba_cannot_be_imported():
    import subprocess
    import sys

    script = (
        "import sys; sys.modules['numba'] = None\n"
        "import numpy as np\n"
        "from engine.ops import embedding_kernels\n"
        "from engine.ops.embedding import embedding_bag\n"
        "assert not embedding_kernels.AVAILABLE\n"
        "y = embedding_bag(np.eye(3, dtype=np.float32), np.array([0, 2, 2]), np.array([0, 1]), 'mean')\n"
        "assert y.tolist() == [[1, 0, 0], [0, 0, 1]], y\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
