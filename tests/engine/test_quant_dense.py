import numpy as np
import pytest

from engine.executor import execute, make_plan, run_graph
from engine.ops import get_op
from engine.ir import Graph, Node, TensorSpec, validate
from engine.models import build_model
from engine.passes import run_passes
from engine.quant.dense import DENSE_MODES, quantizable, quantize_node
from engine.quant.ranges import nonnegative


def quantize_graph(graph, mode, *, fake=False, static=None, unsigned=True):
    """Every quantizable node replaced, unused initializers dropped (what modes.py does)."""
    nodes, inits = [], dict(graph.initializers)
    for node in graph.nodes:
        if quantizable(graph, node):
            u = unsigned and nonnegative(graph, node.inputs[0])
            amax = None if static is None else static[node.name]
            node, new = quantize_node(graph, node, mode, act_amax=amax, act_unsigned=u, fake=fake)
            inits.update(new)
        nodes.append(node)
    used = {t for n in nodes for t in n.inputs}
    return Graph(graph.name, graph.inputs, {k: v for k, v in inits.items() if k in used}, nodes, graph.outputs)


FUSIONS = ["linear_activation", "conv_batchnorm", "conv_relu"]


def built_model(param: str):
    """(graph, inputs) of a test model: "mlp", a zoo name, or "name+fused" for its graph after FUSIONS."""
    name = param.split("+")[0]
    kwargs = {"batch": 32, "sizes": [64, 128, 128, 16]} if name == "mlp" else {}
    m = build_model(name, **kwargs)
    graph = run_passes(m.graph, FUSIONS).graph if "fused" in param else m.graph
    return graph, m.make_inputs()


@pytest.fixture(scope="module", params=["mlp", "dlrm_small", "dlrm_small+fused", "resnet_small", "resnet_small+fused"])
def model(request):
    return built_model(request.param)


def test_dense_modes_are_listed():
    assert DENSE_MODES == ("fp16", "int8", "int8-per-tensor", "int8-outlier")


@pytest.mark.parametrize("mode", DENSE_MODES)
def test_quantized_zoo_graphs_validate_run_and_stay_close(model, mode):
    graph, inputs = model
    q = quantize_graph(graph, mode)
    validate(q)
    assert [n.name for n in q.nodes] == [n.name for n in graph.nodes]
    assert [n.outputs for n in q.nodes] == [n.outputs for n in graph.nodes]
    assert not any(quantizable(q, n) for n in q.nodes)
    ref, out = run_graph(graph, inputs), run_graph(q, inputs)
    for t in graph.outputs:
        scale = np.abs(ref[t]).max()
        tol = 2e-3 if mode == "fp16" else 0.08
        assert np.abs(out[t] - ref[t]).max() <= tol * scale, mode


def all_tensors(graph, inputs):
    everything = tuple(t for n in graph.nodes for t in n.outputs)
    probe = Graph(graph.name, graph.inputs, graph.initializers, graph.nodes, everything)
    return {**inputs, **graph.initializers, **execute(make_plan(probe), inputs)}


@pytest.mark.parametrize("mode", DENSE_MODES)
def test_fake_quant_nodes_agree_with_the_real_ones_on_the_same_inputs(model, mode):
    graph, inputs = model
    real, fake = quantize_graph(graph, mode), quantize_graph(graph, mode, fake=True)
    env = {**all_tensors(real, inputs), **fake.initializers}
    for node in graph.nodes:
        if quantizable(graph, node):
            r, f = real.node(node.name), fake.node(node.name)
            (yr,), (yf,) = (get_op(n.op).run([env[t] for t in n.inputs], get_op(n.op).resolve_attrs(n.attrs))
                            for n in (r, f))
            np.testing.assert_allclose(yf, yr, rtol=1e-4, atol=1e-5 * np.abs(yr).max(), err_msg=node.name)


@pytest.mark.parametrize("mode", DENSE_MODES)
def test_fake_quant_graph_tracks_the_real_one(model, mode):
    """Through a deep graph a 1-ulp fp32 difference can move an activation
    across a rounding boundary (one step, here and there), so the outputs
    agree on average far better than either agrees with fp32."""
    graph, inputs = model
    ref = run_graph(graph, inputs)
    real, fake = run_graph(quantize_graph(graph, mode), inputs), run_graph(quantize_graph(graph, mode, fake=True), inputs)
    for t in graph.outputs:
        assert np.abs(fake[t] - real[t]).mean() <= 0.25 * np.abs(real[t] - ref[t]).mean() + 1e-7


def test_int8_weights_take_a_quarter_of_the_bytes(model):
    graph, _ = model
    q = quantize_graph(graph, "int8")
    for node in graph.nodes:
        if quantizable(graph, node):
            new = q.node(node.name)
            assert new.op == ("Int8Conv" if node.op in ("Conv", "FusedConv") else "Int8Linear")
            assert q.initializers[new.inputs[1]].nbytes * 4 == graph.initializers[node.inputs[1]].nbytes


def test_replacement_keeps_name_outputs_bias_and_activation():
    graph = run_passes(build_model("dlrm_small").graph, ["linear_activation"]).graph
    node = next(n for n in graph.nodes if n.op == "FusedLinear" and n.attrs["activation"] == "Sigmoid")
    new, inits = quantize_node(graph, node, "int8", act_amax=2.5)
    assert (new.name, new.outputs, new.op) == (node.name, node.outputs, "Int8Linear")
    assert new.inputs[0] == node.inputs[0] and new.inputs[3] == node.inputs[2]
    assert new.attrs == {"act_amax": 2.5, "act_unsigned": False, "activation": "Sigmoid", "approximate": "none"}
    w = node.inputs[1]
    assert set(inits) == {f"{w}.int8c", f"{w}.int8c.scale"}
    assert inits[f"{w}.int8c"].dtype == np.int8


def test_a_matmul_with_an_initializer_weight_is_quantizable():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((8, 4)).astype(np.float32)
    graph = Graph("g", (TensorSpec("x", "float32", (3, 8)),), {"w": w},
                  (Node("mm", "MatMul", ("x", "w"), ("y",)),), ("y",))
    assert quantizable(graph, graph.nodes[0])
    for mode in DENSE_MODES:
        node, inits = quantize_node(graph, graph.nodes[0], mode)
        q = Graph("g", graph.inputs, {**graph.initializers, **inits}, (node,), ("y",))
        x = rng.standard_normal((3, 8)).astype(np.float32)
        np.testing.assert_allclose(run_graph(q, {"x": x})["y"], x @ w, atol=0.1)


def test_only_linear_like_nodes_with_a_2d_initializer_weight_qualify():
    graph = Graph("g", (TensorSpec("a", "float32", (3, 8)), TensorSpec("b", "float32", (8, 4))), {},
                  (Node("mm", "MatMul", ("a", "b"), ("y",)), Node("r", "Relu", ("y",), ("z",))), ("z",))
    assert not quantizable(graph, graph.nodes[0]) and not quantizable(graph, graph.nodes[1])
    with pytest.raises(ValueError, match=r"node 'mm' \(MatMul\) cannot be quantized"):
        quantize_node(graph, graph.nodes[0], "int8")


def test_bad_arguments_are_named():
    graph = build_model("mlp", batch=2, sizes=[8, 8, 4]).graph
    fc1, fc2 = graph.node("fc1"), graph.node("fc2")
    with pytest.raises(ValueError, match="unknown dense quantization mode 'int4'; valid modes: fp16, int8"):
        quantize_node(graph, fc1, "int4")
    with pytest.raises(ValueError, match="act_amax must be None"):
        quantize_node(graph, fc1, "int8", act_amax=0.0)
    with pytest.raises(ValueError, match="act_unsigned needs a non-negative input, but 'x' may be negative"):
        quantize_node(graph, fc1, "int8", act_unsigned=True)
    node, _ = quantize_node(graph, fc2, "int8", act_unsigned=True)  # h1 comes out of a Relu
    assert node.attrs["act_unsigned"] is True


def test_a_name_clash_with_another_tensor_is_refused():
    graph = build_model("mlp", batch=2, sizes=[8, 8, 4]).graph
    clash = Graph(graph.name, graph.inputs, {**graph.initializers, "fc1.weight.fp16": np.zeros(1, np.float32)},
                  graph.nodes, graph.outputs)
    with pytest.raises(ValueError, match="cannot add initializer 'fc1.weight.fp16'"):
        quantize_node(clash, clash.node("fc1"), "fp16")


def test_static_calibrated_ranges_run(model):
    graph, inputs = model
    specs_in = {n.name: n.inputs[0] for n in graph.nodes if quantizable(graph, n)}
    # an amax per node from the fp32 run's activations (max |x|), as calibration would give
    probe = Graph(graph.name, graph.inputs, graph.initializers, graph.nodes,
                  tuple(dict.fromkeys([*graph.outputs, *(t for t in specs_in.values() if t not in graph.initializers)])))
    acts = {**inputs, **execute(make_plan(probe), inputs)}
    static = {name: float(np.abs(acts[t]).max()) or 1.0 for name, t in specs_in.items()}
    ref, fixed = run_graph(graph, inputs), run_graph(quantize_graph(graph, "int8", static=static), inputs)
    for t in graph.outputs:  # ranges from the fp32 activations: as close to fp32 as dynamic scales
        assert np.abs(fixed[t] - ref[t]).max() <= 0.08 * np.abs(ref[t]).max()
    node = quantize_graph(graph, "int8", static=static).node(next(iter(static)))
    assert node.attrs["act_amax"] == static[node.name]
