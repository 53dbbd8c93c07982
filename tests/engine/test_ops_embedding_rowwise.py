import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from engine.ops import OPS, ShapeError
from engine.ops import embedding_kernels
from engine.ops.embedding import EmbeddingBag, embedding_bag_numpy
from engine.ops.embedding_rowwise import EmbeddingBagRowwise, GroupedEmbeddingBagRowwise
from engine.quant.rowwise import dequantize_rows, error_bound, quantize_rows, row_bytes


def _bags(rows=300, dim=13, seed=1):
    rng = np.random.default_rng(seed)
    table = rng.standard_normal((rows, dim), dtype=np.float32)
    lengths = np.array([3, 0, 1, 9, 0, 5, 4, 0])  # empty bags, odd lengths: the 4-id groups and their tails
    indices = rng.integers(0, rows, lengths.sum()).astype(np.int64)
    indices[:2] = 7  # a repeated id counts twice
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return table, indices, offsets


def test_they_are_registered():
    assert OPS["EmbeddingBagRowwise"] is EmbeddingBagRowwise
    assert OPS["GroupedEmbeddingBagRowwise"] is GroupedEmbeddingBagRowwise


@pytest.mark.parametrize("bits", [8, 4])
@pytest.mark.parametrize("mode", ["sum", "mean"])
@pytest.mark.parametrize("dim", [13, 64])
def test_it_pools_the_dequantized_rows_bit_for_bit(path, bits, mode, dim):
    table, indices, offsets = _bags(dim=dim)
    packed = quantize_rows(table, bits)
    (y,) = EmbeddingBagRowwise.run([packed, indices, offsets], {"mode": mode, "bits": bits, "dim": dim})
    assert y.shape == (offsets.size, dim) and y.dtype == np.float32
    oracle = embedding_bag_numpy(dequantize_rows(packed, bits, dim), indices, offsets, mode)
    np.testing.assert_array_equal(y, oracle)
    np.testing.assert_array_equal(y[[1, 4, 7]], 0.0)


@pytest.mark.parametrize("bits", [8, 4])
@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_pooled_outputs_stay_within_the_documented_bound(path, bits, mode):
    table, indices, offsets = _bags(dim=64)
    packed = quantize_rows(table, bits)
    (y,) = EmbeddingBagRowwise.run([packed, indices, offsets], {"mode": mode, "bits": bits, "dim": 64})
    exact = EmbeddingBag.run([table.astype(np.float64).astype(np.float32), indices, offsets], {"mode": mode})[0]
    bound = error_bound(table, packed, bits)[indices]
    ends = np.append(offsets[1:], indices.size)
    limit = np.array([bound[a:b].sum() / (max(b - a, 1) if mode == "mean" else 1) for a, b in zip(offsets, ends)])
    slack = 1e-5 * np.abs(exact).max()  # fp32 summation of either side
    assert (np.abs(y - exact) <= limit[:, None] + slack).all()


def test_the_grouped_form_matches_one_lookup_per_table(path):
    tables, feeds = [], []
    for k, (rows, dim) in enumerate([(300, 13), (50, 64), (80, 13)]):
        table, indices, offsets = _bags(rows, dim, seed=k)
        tables.append(quantize_rows(table, 4))
        feeds += [tables[-1], indices, offsets]
    attrs = {"mode": "mean", "bits": 4, "dims": [13, 64, 13]}
    outs = GroupedEmbeddingBagRowwise.run(feeds, attrs)
    for k, out in enumerate(outs):
        (one,) = EmbeddingBagRowwise.run(feeds[3 * k:3 * k + 3], {"mode": "mean", "bits": 4, "dim": attrs["dims"][k]})
        np.testing.assert_array_equal(out, one)
    np.testing.assert_array_equal(GroupedEmbeddingBagRowwise.run(feeds, {**attrs, "dedup": 1})[2], outs[2])


@pytest.mark.parametrize("threads", [1, 2])
def test_an_out_of_range_id_names_the_table(path, threads, monkeypatch):
    monkeypatch.setattr(embedding_kernels, "MIN_IDS_PER_THREAD", 1)
    table, indices, offsets = _bags()
    packed = quantize_rows(table, 8)
    bad = indices.copy()
    bad[5] = 300
    match = "table #1: .*id 300 at position 5"
    with threadpool_limits(threads, user_api="blas"), pytest.raises(ValueError, match=match):
        GroupedEmbeddingBagRowwise.run([packed, indices, offsets, packed, bad, offsets],
                                       {"mode": "sum", "bits": 8, "dims": [13, 13]})


def test_shapes_dtypes_and_attributes_are_checked():
    shapes = [(300, row_bytes(13, 4)), (20,), (8,)]
    attrs = {"mode": "sum", "bits": 4, "dim": 13}
    assert EmbeddingBagRowwise.infer_shape(shapes, attrs) == ((8, 13),)
    assert EmbeddingBagRowwise.infer_dtype(["uint8", "int64", "int64"], attrs) == ("float32",)
    with pytest.raises(ShapeError, match="must be \\(rows, 11\\)"):
        EmbeddingBagRowwise.infer_shape([(300, 21), (20,), (8,)], attrs)
    with pytest.raises(ShapeError, match="bits is 2"):
        EmbeddingBagRowwise.infer_shape(shapes, {**attrs, "bits": 2})
    with pytest.raises(ShapeError, match="attribute dim is None"):
        EmbeddingBagRowwise.infer_shape(shapes, {"mode": "sum", "bits": 4})
    with pytest.raises(ShapeError, match="dtype float32 but must be uint8"):
        EmbeddingBagRowwise.infer_dtype(["float32", "int64", "int64"], attrs)
    with pytest.raises(ShapeError, match="dims is \\[13\\]; expected a list of 2"):
        GroupedEmbeddingBagRowwise.infer_shape(shapes * 2, {"mode": "sum", "bits": 4, "dims": [13]})


def test_bytes_count_the_packed_rows_and_flops_the_dequantize():
    shapes, out = [(1000, 72), (500,), (64,)], [(64, 64)]
    dtypes = ["uint8", "int64", "int64", "float32"]
    assert EmbeddingBagRowwise.bytes(shapes, out, dtypes) == 500 * 8 + 64 * 8 + 500 * (64 + 8) + 64 * 64 * 4
    fp32 = EmbeddingBag.bytes([(1000, 64), (500,), (64,)], out, ["float32", *dtypes[1:]])
    assert fp32 - EmbeddingBagRowwise.bytes(shapes, out, dtypes) == 500 * (4 * 64 - 72)
    assert EmbeddingBagRowwise.flops(shapes, {"mode": "sum", "bits": 8, "dim": 64}) == 3 * 500 * 64
    grouped = GroupedEmbeddingBagRowwise.flops(shapes * 2, {"mode": "mean", "bits": 8, "dims": [64, 64]})
    assert grouped == 2 * (3 * 500 * 64 + 64 * 64)
