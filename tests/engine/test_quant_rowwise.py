import struct

import numpy as np
import pytest

from engine.executor import run_graph
from engine.ir import Graph, Node, TensorSpec
from engine.models import build_model
from engine.passes import run_passes
from engine.quant.rowwise import dequantize_rows, error_bound, quantize_rows, row_bytes
from engine.quant.rowwise_nodes import quantizable_embedding, quantize_embedding_node


def fbgemm_row_8bit(x):
    """FloatToFused8BitRowwiseQuantizedSBFloat for one row, scalar float32 as in QuantUtils.cc."""
    x = x.astype(np.float32)
    lo, hi = np.float32(x.min()), np.float32(x.max())
    span = np.float32(hi - lo)
    scale = np.float32(span / np.float32(255))
    inverse = np.float32(np.float32(255) / np.float32(span + np.float32(1e-8)))
    codes = bytes(int(np.rint(np.float32(np.float32(v - lo) * inverse))) for v in x)
    return codes + struct.pack("<ff", scale, lo)


def fbgemm_row_4bit(x):
    """FloatToFusedNBitRowwiseQuantizedSBHalf (bit_rate 4) for one row."""
    x = x.astype(np.float32)
    lo = np.float32(np.float16(x.min()))
    span = np.float32(x.max() - lo)
    scale = np.float32(1) if span == 0 else np.float32(span / np.float32(15))
    scale = np.float32(np.float16(scale))
    if scale == 0 or np.isinf(np.float32(1) / scale):
        scale = np.float32(1)
    inverse = np.float32(np.float32(1) / scale)
    out = bytearray((len(x) + 1) // 2)
    for j, v in enumerate(x):
        q = max(0, min(int(np.rint(np.float32(np.float32(v - lo) * inverse))), 15))
        out[j // 2] |= q << (4 * (j % 2))
    return bytes(out) + np.float16(scale).tobytes() + np.float16(lo).tobytes()


@pytest.fixture
def table():
    rng = np.random.default_rng(2)
    t = rng.standard_normal((40, 13), dtype=np.float32) * rng.uniform(0.01, 10, (40, 1)).astype(np.float32)
    t[3] = 0.7  # a constant row: range 0
    t[4, :] = np.linspace(-1e-9, 1e-9, 13)  # a range below FBGEMM's epsilon
    return t


@pytest.mark.parametrize("bits, reference", [(8, fbgemm_row_8bit), (4, fbgemm_row_4bit)])
def test_the_layout_is_fbgemms_byte_for_byte(table, bits, reference):
    packed = quantize_rows(table, bits)
    assert packed.dtype == np.uint8 and packed.shape == (40, row_bytes(13, bits))
    assert row_bytes(13, 8) == 13 + 8 and row_bytes(13, 4) == 7 + 4
    for r in range(table.shape[0]):
        assert packed[r].tobytes() == reference(table[r]), f"row {r}"


@pytest.mark.parametrize("bits", [8, 4])
def test_dequantized_elements_stay_within_half_a_step(table, bits):
    packed = quantize_rows(table, bits)
    restored = dequantize_rows(packed, bits, 13)
    assert restored.dtype == np.float32 and restored.shape == table.shape
    err = np.abs(restored.astype(np.float64) - table)
    bound = error_bound(table, packed, bits)
    assert (err <= bound[:, None]).all()
    if bits == 8:  # a constant row comes back exactly (4-bit: its fp16 bias may round past it, as FBGEMM's)
        np.testing.assert_array_equal(restored[3], np.float32(0.7))
    # the bound is tight: the worst element uses most of it on some rows
    assert (err.max(axis=1) / bound > 0.4).mean() > 0.5


def test_four_bit_packs_two_codes_a_byte_low_nibble_first():
    row = np.array([[0, 15, 5, 10, 15]], dtype=np.float32)  # scale 1, bias 0: codes are the values
    packed = quantize_rows(row, 4)
    assert list(packed[0, :3]) == [0xF0, 0xA5, 0x0F]
    np.testing.assert_array_equal(dequantize_rows(packed, 4, 5), row)


def test_a_big_table_is_quantized_in_chunks_alike(monkeypatch, table):
    whole = quantize_rows(table, 8)
    monkeypatch.setattr("engine.quant.rowwise.CHUNK_ROWS", 7)
    np.testing.assert_array_equal(quantize_rows(table, 8), whole)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="bits is 3; expected one of 8, 4"):
        quantize_rows(np.zeros((2, 4), np.float32), 3)
    with pytest.raises(ValueError, match="shape \\(4,\\)"):
        quantize_rows(np.zeros(4, np.float32), 8)
    bad = np.zeros((3, 4), np.float32)
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="row 2 of the table has a value that is not finite"):
        quantize_rows(bad, 8)
    big = np.zeros((2, 4), np.float32)
    big[1] = [-1e6, 0, 0, 1e6]
    with pytest.raises(ValueError, match="row 1 .*beyond float16"):
        quantize_rows(big, 4)
    quantize_rows(big, 8)  # fp32 scale and bias: fine
    with pytest.raises(ValueError, match="expected uint8 \\(rows, 12\\) for 8-bit rows of width 4"):
        dequantize_rows(np.zeros((2, 11), np.uint8), 8, 4)


def _lookups(shared=False):
    rng = np.random.default_rng(0)
    inits = {"w0": rng.standard_normal((30, 6), dtype=np.float32), "w1": rng.standard_normal((20, 5), dtype=np.float32)}
    inputs, nodes = [], []
    for k in range(3):
        w = "w0" if k == 2 and shared else f"w{min(k, 1)}" if k < 2 else "w1"
        inputs += [TensorSpec(f"i{k}", "int64", (12,)), TensorSpec(f"o{k}", "int64", (4,))]
        nodes.append(Node(f"emb{k}", "EmbeddingBag", (w, f"i{k}", f"o{k}"), (f"e{k}",), {"mode": "mean"}))
    nodes.append(Node("cat", "Concat", ("e0", "e1", "e2"), ("y",), {"axis": 1}))
    g = Graph("g", tuple(inputs), inits, tuple(nodes), ("y",))
    feeds = {}
    for k, n in enumerate(nodes[:3]):
        feeds[f"i{k}"] = rng.integers(0, inits[n.inputs[0]].shape[0], 12).astype(np.int64)
        feeds[f"o{k}"] = np.array([0, 5, 5, 9], dtype=np.int64)
    return g, feeds


def _replace(graph, node, bits):
    new, packed = quantize_embedding_node(graph, node, bits)
    nodes = tuple(new if n.name == node.name else n for n in graph.nodes)
    used = {t for n in nodes for t in n.inputs}
    inits = {k: v for k, v in {**graph.initializers, **packed}.items() if k in used}
    return Graph(graph.name, graph.inputs, inits, nodes, graph.outputs), new, packed


def _dequantized_graph(graph, bits):
    """The fp32 graph whose tables are the dequantized packed tables: the quantized node's exact oracle."""
    inits = dict(graph.initializers)
    for name, t in graph.initializers.items():
        if t.dtype == np.float32 and t.ndim == 2:
            inits[name] = dequantize_rows(quantize_rows(t, bits), bits, t.shape[1])
    return Graph(graph.name, graph.inputs, inits, graph.nodes, graph.outputs)


@pytest.mark.parametrize("bits", [8, 4])
def test_a_plain_lookup_is_replaced_one_for_one(bits):
    g, feeds = _lookups()
    node = g.nodes[1]
    assert quantizable_embedding(g, node) and not quantizable_embedding(g, g.nodes[3])
    q, new, packed = _replace(g, node, bits)
    assert (new.name, new.op, new.outputs) == ("emb1", "EmbeddingBagRowwise", ("e1",))
    assert new.attrs == {"mode": "mean", "bits": bits, "dim": 5} and list(packed) == [f"w1.rowwise{bits}"]
    assert packed[f"w1.rowwise{bits}"].shape == (20, row_bytes(5, bits))
    got = run_graph(q, feeds)["y"]
    oracle = run_graph(_dequantized_graph(g, bits), feeds)["y"]
    np.testing.assert_array_equal(got[:, 6:11], oracle[:, 6:11])


@pytest.mark.parametrize("bits", [8, 4])
def test_a_grouped_lookup_becomes_one_grouped_rowwise_node(bits):
    g, feeds = _lookups(shared=True)
    grouped = run_passes(g, "embedding_group").graph
    node = grouped.nodes[0]
    assert node.op == "GroupedEmbeddingBag" and quantizable_embedding(grouped, node)
    q, new, packed = _replace(grouped, node, bits)
    assert (new.name, new.op, new.outputs) == (node.name, "GroupedEmbeddingBagRowwise", node.outputs)
    assert new.attrs["dims"] == [6, 5, 6] and new.attrs["bits"] == bits
    assert sorted(packed) == [f"w0.rowwise{bits}", f"w1.rowwise{bits}"]  # the shared table once
    assert "w0" not in q.initializers
    oracle = run_graph(_dequantized_graph(g, bits), feeds)["y"]
    np.testing.assert_array_equal(run_graph(q, feeds)["y"], oracle)


def test_a_lookup_whose_table_is_computed_is_not_quantizable():
    g, _ = _lookups()
    inputs = (*g.inputs, TensorSpec("wx", "float32", (30, 6)))
    node = Node("embx", "EmbeddingBag", ("wx", "i0", "o0"), ("ex",))
    g2 = Graph("g", inputs, g.initializers, (*g.nodes, node), ("y", "ex"))
    assert not quantizable_embedding(g2, node)
    with pytest.raises(ValueError, match="'embx' .*not a row-wise quantizable embedding"):
        quantize_embedding_node(g2, node, 8)
    with pytest.raises(ValueError, match="bits is 2"):
        quantize_embedding_node(g, g.nodes[0], 2)


def test_dlrm_with_all_passes_gets_one_grouped_8bit_lookup_within_the_bound():
    model = build_model("dlrm_small")
    feeds = model.make_inputs(0)
    graph = run_passes(model.graph, "all").graph
    lookups = [n for n in graph.nodes if quantizable_embedding(graph, n)]
    assert [n.op for n in lookups] == ["GroupedEmbeddingBag"]
    q, new, packed = _replace(graph, lookups[0], 8)
    assert [n.op for n in q.nodes].count("GroupedEmbeddingBagRowwise") == 1
    assert not any(n.op in ("EmbeddingBag", "GroupedEmbeddingBag") for n in q.nodes)
    fp32 = sum(graph.initializers[w].nbytes for w in lookups[0].inputs[0::3])
    assert fp32 / sum(p.nbytes for p in packed.values()) == pytest.approx(4 * 64 / (64 + 8))
    # each pooled output within the sum of its rows' bounds
    pooled = run_graph(Graph(q.name, q.inputs, q.initializers, q.nodes, new.outputs), feeds)
    for k, out in enumerate(new.outputs):
        w, ids, offs = lookups[0].inputs[3 * k:3 * k + 3]
        table = graph.initializers[w]
        bound = error_bound(table, packed[f"{w}.rowwise8"], 8)[feeds[ids]]
        ends = np.append(feeds[offs][1:], feeds[ids].size)
        exact = np.stack([table[feeds[ids][a:b]].astype(np.float64).sum(0) for a, b in zip(feeds[offs], ends)])
        limit = np.array([bound[a:b].sum() for a, b in zip(feeds[offs], ends)]) + 1e-6
        assert (np.abs(pooled[out] - exact) <= limit[:, None]).all(), out

