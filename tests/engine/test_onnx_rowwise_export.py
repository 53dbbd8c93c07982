"""The row-wise quantized embedding ops export to standard ONNX (codes,
scales and biases gathered by id, dequantized, pooled as EmbeddingBag) and
onnxruntime computes what the engine computes."""
import numpy as np
import pytest

from engine.executor import run_graph
from engine.ir import Graph, Node, TensorSpec
from engine.models import build_model
from engine.onnx_io import export_onnx
from engine.onnx_io.ort_runner import run_ort
from engine.passes import run_passes
from engine.quant.modes import apply_quant
from engine.quant.rowwise import code_bytes
from engine.quant.rowwise_nodes import quantize_embedding_node

RNG = np.random.default_rng(11)
TOL = {"rtol": 1e-5, "atol": 1e-6}  # the dequantized rows are bit-exact; only summation order may differ


def bags(batch: int, rows: int, max_len: int) -> tuple[np.ndarray, np.ndarray]:
    lengths = RNG.integers(0, max_len + 1, size=batch)
    lengths[0], lengths[1], lengths[-1] = max(lengths[0], 1), 0, 0  # empty bags inside and at the end
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return RNG.integers(0, rows, size=int(lengths.sum())).astype(np.int64), offsets


def quantized(graph: Graph, bits: int) -> Graph:
    """Every embedding node of `graph` row-wise quantized, the fp32 tables dropped."""
    nodes, inits = [], dict(graph.initializers)
    for node in graph.nodes:
        node, packed = quantize_embedding_node(graph, node, bits)
        inits.update(packed)
        nodes.append(node)
    read = {t for n in nodes for t in n.inputs}
    return Graph(graph.name, graph.inputs, {k: v for k, v in inits.items() if k in read}, tuple(nodes), graph.outputs)


def bag_graph(dims: list[int], mode: str, grouped: bool, shared: bool = False) -> tuple[Graph, dict]:
    """One EmbeddingBag per width in `dims` (or one GroupedEmbeddingBag of them); `shared`
    makes the last lookup read the first table again."""
    inputs, feeds, tables, triples = [], {}, {}, []
    for k, dim in enumerate(dims):
        rows = 7 + 3 * k
        table = f"table{0 if shared and k == len(dims) - 1 else k}"
        if table not in tables:
            tables[table] = (RNG.standard_normal((rows, dim)) * (k + 1)).astype(np.float32)
        indices, offsets = bags(6, tables[table].shape[0], 4)
        feeds[f"idx{k}"], feeds[f"off{k}"] = indices, offsets
        inputs += [TensorSpec(f"idx{k}", "int64", indices.shape), TensorSpec(f"off{k}", "int64", offsets.shape)]
        triples.append((table, f"idx{k}", f"off{k}"))
    outputs = tuple(f"y{k}" for k in range(len(dims)))
    if grouped:
        nodes = (Node("bags", "GroupedEmbeddingBag", sum(triples, ()), outputs, {"mode": mode}),)
    else:
        nodes = tuple(Node(f"bag{k}", "EmbeddingBag", t, (y,), {"mode": mode})
                      for k, (t, y) in enumerate(zip(triples, outputs)))
    return Graph("bags", tuple(inputs), tables, nodes, outputs), feeds


def assert_ort_agrees(graph: Graph, feeds: dict) -> set[str]:
    exported = export_onnx(graph)
    ours, theirs = run_graph(graph, feeds), run_ort(exported, feeds)
    for name in graph.outputs:
        assert theirs[name].dtype == np.float32 and theirs[name].shape == ours[name].shape, name
        np.testing.assert_allclose(theirs[name], ours[name], **TOL, err_msg=name)
    return {n.op_type for n in exported.graph.node}


@pytest.mark.parametrize("mode", ["sum", "mean"])
@pytest.mark.parametrize("bits", [8, 4])
@pytest.mark.parametrize("dims", [[6], [5], [1]], ids=["even_dim", "odd_dim", "dim1"])
def test_a_single_rowwise_bag_runs_in_onnxruntime_with_our_outputs(bits, mode, dims):
    graph, feeds = bag_graph(dims, mode, grouped=False)
    q = quantized(graph, bits)
    assert [n.op for n in q.nodes] == ["EmbeddingBagRowwise"]
    ops = assert_ort_agrees(q, feeds)
    assert ("BitShift" in ops) == (bits == 4)
    assert "ScatterND" in ops  # pooled by EmbeddingBag's export


@pytest.mark.parametrize("mode", ["sum", "mean"])
@pytest.mark.parametrize("bits", [8, 4])
@pytest.mark.parametrize("shared", [False, True], ids=["own_tables", "shared_table"])
def test_a_grouped_rowwise_bag_runs_in_onnxruntime_with_our_outputs(bits, mode, shared):
    graph, feeds = bag_graph([4, 7, 3, 4], mode, grouped=True, shared=shared)
    q = quantized(graph, bits)
    assert [n.op for n in q.nodes] == ["GroupedEmbeddingBagRowwise"]
    assert_ort_agrees(q, feeds)
    assert len(codes_in(q)) == (3 if shared else 4)  # a table read twice is split once


def codes_in(graph: Graph) -> list[str]:
    return [i.name for i in export_onnx(graph).graph.initializer if "/codes" in i.name]  # a repeat is /codes_<k>


@pytest.mark.parametrize("bits", [8, 4])
def test_a_table_read_by_two_nodes_is_split_once(bits):
    graph, feeds = bag_graph([4, 6, 4], "sum", grouped=False, shared=True)
    q = quantized(graph, bits)
    assert [n.inputs[0] for n in q.nodes] == [f"table0.rowwise{bits}", f"table1.rowwise{bits}", f"table0.rowwise{bits}"]
    assert_ort_agrees(q, feeds)
    assert len(codes_in(q)) == 2


@pytest.mark.parametrize("bits", [8, 4])
def test_the_file_keeps_the_packed_sizes(bits):
    graph, _ = bag_graph([9], "sum", grouped=False)
    q = quantized(graph, bits)
    (packed,) = q.initializers.values()
    inits = {i.name.rsplit("/", 1)[-1]: i for i in export_onnx(q).graph.initializer}
    assert tuple(inits["codes"].dims) == (packed.shape[0], code_bytes(9, bits))
    assert inits["codes"].data_type == 2  # TensorProto.UINT8
    assert tuple(inits["scale_bias"].dims) == (packed.shape[0], 2)
    assert inits["scale_bias"].data_type == (1 if bits == 8 else 10)  # FLOAT / FLOAT16, as stored


@pytest.mark.parametrize("quant", ["int8-rowwise-emb", "int4-rowwise-emb"])
def test_a_rowwise_quantized_dlrm_exports(quant):
    m = build_model("dlrm_small")
    graph = apply_quant(run_passes(m.graph, "all").graph, quant).graph
    assert "GroupedEmbeddingBagRowwise" in {n.op for n in graph.nodes}
    assert_ort_agrees(graph, m.make_inputs())
