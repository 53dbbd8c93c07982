"""The PyTorch eager peer (engine/onnx_io/torch_runner.py) computes the same
model as the engine: dlrm_small and wdl_small (fp32 and with row-wise
quantized tables) and the other ops it translates, against the engine's
outputs on the same weights and inputs. Skipped where torch is not installed
(CI never installs it: PyTorch is an optional peer for the benchmarks)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from engine.executor import run_graph
from engine.ir import GraphError
from engine.models import build_model
from engine.models.base import GraphBuilder
from engine.onnx_io.process_race import RunnerSpec, race_processes
from engine.passes import run_passes
from engine.quant.modes import apply_quant

pytest.importorskip("torch")

from engine.onnx_io.torch_runner import torch_runner  # noqa: E402 - only once torch is known to be there

RTOL = 1e-5


def torch_outputs(graph, inputs) -> dict[str, np.ndarray]:
    return {name: t.numpy() for name, t in zip(graph.outputs, torch_runner(graph, inputs, threads=1)(),
                                                strict=True)}


def assert_same_outputs(graph, inputs, atol: float = 0.0) -> None:
    expected, got = run_graph(graph, inputs), torch_outputs(graph, inputs)
    for name, want in expected.items():
        assert got[name].shape == want.shape and got[name].dtype == want.dtype, name
        np.testing.assert_allclose(got[name], want, rtol=RTOL, atol=atol, err_msg=name)


@pytest.mark.parametrize("name", ["dlrm_small", "wdl_small"])
@pytest.mark.parametrize("quant", [None, "int8-rowwise-emb", "int4-rowwise-emb"])
def test_the_torch_peer_computes_what_the_engine_computes(name, quant):
    model = build_model(name)
    graph = model.graph if quant is None else apply_quant(model.graph, quant).graph
    assert_same_outputs(graph, model.make_inputs(1))


def test_the_interaction_has_the_engines_layout():
    """Every column of DotInteraction's output (the dense feature, then the
    pairs of the strictly lower triangle), not just the model's output."""
    model = build_model("dlrm_small")
    graph = dataclasses.replace(model.graph, outputs=("interact.out", *model.graph.outputs))
    assert_same_outputs(graph, model.make_inputs(2), atol=1e-6)


def single_node_graph(op: str, tensors: dict[str, np.ndarray], consts: tuple[str, ...] = (), **attrs):
    """One `op` node reading `tensors` in order: those named in `consts` as
    initializers, the others as graph inputs. Returns the graph and its feeds."""
    g = GraphBuilder(op, 0)
    for name, value in tensors.items():
        g.const(name, value) if name in consts else g.input(name, value.dtype.name, value.shape)
    feeds = {name: value for name, value in tensors.items() if name not in consts}
    return g.graph((g.op("node", op, tuple(tensors), **attrs),)), feeds


rng = np.random.default_rng(3)
X = rng.standard_normal((4, 6)).astype(np.float32)
Y = rng.uniform(0.5, 2.0, (4, 6)).astype(np.float32)
IDS = np.array([3, 0, 3, 1], dtype=np.int64)
CASES = {
    "Sub": ({"x": X, "y": Y}, {}),
    "Mul": ({"x": X, "y": Y[0]}, {}),  # broadcast
    "Div": ({"x": X, "y": Y}, {}),
    "Tanh": ({"x": X}, {}),
    "MatMul": ({"x": X, "y": Y.T.copy()}, {}),
    "Softmax": ({"x": X}, {"axis": 0}),
    "Reshape": ({"x": X}, {"shape": [3, -1]}),
    "Concat": ({"x": X, "y": Y}, {"axis": -1}),
    "Gather": ({"x": X, "i": np.array([[0, -1], [2, 1]], dtype=np.int64)}, {"axis": 1}),  # -1: the last
    "EmbeddingBag": ({"w": X, "i": IDS, "o": np.array([0, 0, 2], dtype=np.int64)}, {"mode": "mean"}),  # empty bag
}


@pytest.mark.parametrize("op", CASES)
def test_each_translated_op_computes_what_the_engine_computes(op):
    tensors, attrs = CASES[op]
    assert_same_outputs(*single_node_graph(op, tensors, **attrs), atol=1e-7)


@pytest.mark.parametrize("bits", ["int8-rowwise-emb", "int4-rowwise-emb"])
def test_rowwise_tables_of_an_odd_width_in_mean_mode(bits):
    """A 4-bit row of width 5 holds a padding code; mean mode is FBGEMM's mode 1."""
    tensors = {"w": rng.standard_normal((7, 5)).astype(np.float32), "i": np.array([6, 1, 1, 4, 0], dtype=np.int64),
               "o": np.array([0, 3, 3], dtype=np.int64)}
    graph, feeds = single_node_graph("EmbeddingBag", tensors, ("w",), mode="mean")
    quantized = apply_quant(graph, bits).graph
    assert quantized.nodes[0].op == "EmbeddingBagRowwise"
    assert_same_outputs(quantized, feeds, atol=1e-7)


def test_an_op_without_a_translation_is_named():
    model = build_model("dlrm_small")
    fused = run_passes(model.graph, "all").graph
    with pytest.raises(GraphError, match=r"node 'bot\.fc1\+bot\.relu1' \(FusedLinear\): .*no translation"):
        torch_runner(fused, model.make_inputs(0), threads=1)


def test_a_race_runs_the_torch_peer_in_its_own_process():
    spec = {"batch": 4}
    result = race_processes({"ours": RunnerSpec("engine", "dlrm_small", spec),
                             "torch": RunnerSpec("torch", "dlrm_small", spec)}, repeats=3, warmup=1, blocks=3)
    assert {name: len(s.times_s) for name, s in result.samples.items()} == {"ours": 3, "torch": 3}
    assert all(t > 0 for s in result.samples.values() for t in s.times_s)
