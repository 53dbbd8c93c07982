import dataclasses

import numpy as np

from engine.executor import run_graph
from engine.ir import Node
from engine.models import build_model
from engine.passes import run_passes


def test_primitive_self_attention_becomes_one_multihead_attention_per_layer():
    model = build_model("transformer_small", batch=3, seq_len=5)
    r = run_passes(model.graph, "attention")
    fused = [n for n in r.graph.nodes if n.op == "MultiHeadAttention"]
    assert [n.name for n in fused] == ["l1.attn", "l2.attn"]
    assert fused[0].attrs == {"num_heads": 4}
    assert len(r.lineage["l1.attn"]) == 20 and all(s.startswith("l1.attn.") for s in r.lineage["l1.attn"])
    inputs = model.make_inputs(0)
    np.testing.assert_allclose(run_graph(r.graph, inputs)["y"], run_graph(model.graph, inputs)["y"],
                               rtol=1e-5, atol=1e-5)


def test_a_scale_other_than_one_over_sqrt_d_is_not_attention():
    graph = build_model("transformer_small").graph
    inits = dict(graph.initializers)
    inits["l1.attn.scale"] = np.array(0.3, dtype=np.float32)
    r = run_passes(dataclasses.replace(graph, initializers=inits), "attention")
    assert [n.name for n in r.graph.nodes if n.op == "MultiHeadAttention"] == ["l2.attn"]


def test_an_intermediate_read_elsewhere_blocks_the_fusion():
    graph = build_model("transformer_small", layers=1).graph
    extra = Node("peek", "Relu", ("l1.attn.softmax.out",), ("peek.out",))
    graph = dataclasses.replace(graph, nodes=(*graph.nodes, extra), outputs=("y", "peek.out"))
    r = run_passes(graph, "attention")
    assert r.graph is graph and r.noop == ["attention"]
