import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from engine.executor import run_graph
from engine.ir import Graph, GraphError, Node, TensorSpec
from engine.ops import embedding_kernels
from engine.passes import run_passes


def _lookups(n_tables=3, computed_ids=False, mode="sum"):
    rng = np.random.default_rng(0)
    inputs, inits, nodes, outs = [], {}, [], []
    for k in range(n_tables):
        inits[f"w{k}"] = rng.standard_normal((50 + k, 4)).astype(np.float32)
        inputs += [TensorSpec(f"i{k}", "int64", (10,)), TensorSpec(f"o{k}", "int64", (4,))]
        nodes.append(Node(f"emb{k}", "EmbeddingBag", (f"w{k}", f"i{k}", f"o{k}"), (f"e{k}",), {"mode": mode}))
        outs.append(f"e{k}")
    if computed_ids:  # one lookup reads ids another node computes: it cannot be hoisted
        nodes.insert(0, Node("ids", "Reshape", ("i0",), ("i0r",), {"shape": [10]}))
        nodes[1] = Node("emb0", "EmbeddingBag", ("w0", "i0r", "o0"), ("e0",), {"mode": mode})
    nodes.append(Node("cat", "Concat", tuple(outs), ("y",), {"axis": 1}))
    g = Graph("g", tuple(inputs), inits, tuple(nodes), ("y",))
    feeds = {}
    for k in range(n_tables):
        feeds[f"i{k}"] = rng.integers(0, 50, 10).astype(np.int64)
        feeds[f"o{k}"] = np.array([0, 3, 3, 7], dtype=np.int64)  # one empty bag
    return g, feeds


@pytest.mark.parametrize("threads", [1, 2])
def test_all_lookups_become_one_grouped_node_with_identical_outputs(threads, monkeypatch):
    monkeypatch.setattr(embedding_kernels, "MIN_IDS_PER_THREAD", 1)  # let tiny tables take the threaded path
    g, feeds = _lookups(mode="mean")
    r = run_passes(g, "embedding_group")
    grouped = r.graph.nodes[0]
    assert (grouped.name, grouped.op, grouped.outputs) == ("emb0..emb2", "GroupedEmbeddingBag", ("e0", "e1", "e2"))
    assert r.lineage["emb0..emb2"] == ("emb0", "emb1", "emb2")
    with threadpool_limits(limits=threads, user_api="blas"):
        np.testing.assert_array_equal(run_graph(r.graph, feeds)["y"], run_graph(g, feeds)["y"])


def test_a_lookup_whose_ids_are_computed_stays_out_of_the_group():
    g, _ = _lookups(computed_ids=True)
    r = run_passes(g, "embedding_group")
    assert [n.op for n in r.graph.nodes] == ["Reshape", "EmbeddingBag", "GroupedEmbeddingBag", "Concat"]
    assert r.lineage["emb1..emb2"] == ("emb1", "emb2")


def test_a_single_lookup_is_a_no_op():
    g, _ = _lookups(n_tables=1)
    assert run_passes(g, "embedding_group").noop == ["embedding_group"]


@pytest.mark.parametrize("threads", [1, 2])
def test_an_out_of_range_id_names_the_node_and_the_table(threads, monkeypatch):
    monkeypatch.setattr(embedding_kernels, "MIN_IDS_PER_THREAD", 1)
    g, feeds = _lookups()
    feeds["i1"][4] = 999
    with threadpool_limits(limits=threads, user_api="blas"), \
            pytest.raises(GraphError, match=r"emb0\.\.emb2.*table #1.*id 999 at position 4"):
        run_graph(run_passes(g, "embedding_group").graph, feeds)


def _mixed_tables(seed=4):
    """Tables of different widths and batches: separate output arrays, not one block."""
    rng = np.random.default_rng(seed)
    tables, indices, offsets = [], [], []
    for rows, dim, batch in [(500, 8, 30), (40, 3, 30), (900, 8, 7), (60, 8, 30)]:
        tables.append(rng.standard_normal((rows, dim), dtype=np.float32))
        lengths = rng.integers(0, 12, batch)
        lengths[:3] = 0  # empty bags where a split may fall
        ids = (rng.zipf(1.2, lengths.sum()) - 1) % rows  # repeats, as dlrm's ids
        indices.append(ids.astype(np.int64))
        offsets.append(np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64))
    return tables, indices, offsets


@pytest.mark.parametrize("dedup", [0, 1])
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_the_grouped_kernel_is_bit_identical_to_one_lookup_per_table(dedup, threads, mode, monkeypatch):
    from engine.ops.embedding import EmbeddingBag
    from engine.ops.fused import GroupedEmbeddingBag

    monkeypatch.setattr(embedding_kernels, "MIN_IDS_PER_THREAD", 1)
    tables, indices, offsets = _mixed_tables()
    flat = [a for t in zip(tables, indices, offsets) for a in t]
    with threadpool_limits(limits=threads, user_api="blas"):
        outs = GroupedEmbeddingBag.run(flat, {"mode": mode, "dedup": dedup})
    for k, out in enumerate(outs):
        (one,) = EmbeddingBag.run([tables[k], indices[k], offsets[k]], {"mode": mode})
        np.testing.assert_array_equal(out, one, err_msg=f"table #{k}")


@pytest.mark.skipif(not embedding_kernels.AVAILABLE, reason="numba is not installed")
@pytest.mark.parametrize("parts", [2, 3, 5])
def test_the_thread_split_covers_every_bag_once_in_table_order(parts):
    _, indices, offsets = _mixed_tables()
    work = embedding_kernels._grouped_splits(indices, offsets, parts)
    runs = [tuple(r) for w in work for r in w.tolist()]
    covered = [(k, b) for k, first, end in runs for b in range(first, end)]
    assert covered == [(k, b) for k, o in enumerate(offsets) for b in range(o.size)]
    assert 1 < len(work) <= parts


def test_bad_offsets_name_the_table():
    from engine.ops.fused import GroupedEmbeddingBag

    tables, indices, offsets = _mixed_tables()
    offsets[2] = offsets[2][::-1].copy()
    flat = [a for t in zip(tables, indices, offsets) for a in t]
    with pytest.raises(ValueError, match="table #2: EmbeddingBag offsets: the first bag must start at 0"):
        GroupedEmbeddingBag.run(flat, {"mode": "sum"})
