import numpy as np
import pytest

from engine.executor import run_graph
from engine.ir import Graph, GraphError, Node, TensorSpec, infer_specs, topological_order, validate


def f32(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)


def two_layer(hidden_in_fc2=512, *, nodes=None, extra_inits=None):
    """x(64,128) -> fc1 (128->256) -> relu1 -> h1 -> fc2 (hidden_in_fc2->10) -> y"""
    inits = {
        "fc1.weight": f32(128, 256), "fc1.bias": f32(256),
        "fc2.weight": f32(hidden_in_fc2, 10), "fc2.bias": f32(10),
        **(extra_inits or {}),
    }
    nodes = nodes or (
        Node("fc1", "Linear", ("x", "fc1.weight", "fc1.bias"), ("fc1.out",)),
        Node("relu1", "Relu", ("fc1.out",), ("h1",)),
        Node("fc2", "Linear", ("h1", "fc2.weight", "fc2.bias"), ("y",)),
    )
    return Graph("two_layer", (TensorSpec("x", "float32", (64, 128)),), inits, nodes, ("y",))


def test_shape_inference_gives_every_tensor_its_shape_and_dtype():
    specs = infer_specs(two_layer(hidden_in_fc2=256))
    assert specs["fc1.out"] == TensorSpec("fc1.out", "float32", (64, 256))
    assert specs["h1"].shape == (64, 256)
    assert specs["y"] == TensorSpec("y", "float32", (64, 10))
    assert specs["fc2.weight"].shape == (256, 10)


def test_a_mismatch_names_the_node_the_tensors_and_both_shapes():
    with pytest.raises(GraphError) as e:
        validate(two_layer(hidden_in_fc2=512))
    assert str(e.value) == (
        "node 'fc2' (Linear): input 'h1' has shape (64, 256) but weight 'fc2.weight' expects in_features 512"
    )


def test_nodes_listed_out_of_order_are_sorted_by_their_dependencies():
    g = two_layer(hidden_in_fc2=256)
    shuffled = Graph(g.name, g.inputs, g.initializers, tuple(reversed(g.nodes)), g.outputs)
    assert [n.name for n in topological_order(shuffled)] == ["fc1", "relu1", "fc2"]
    np.testing.assert_array_equal(
        run_graph(shuffled, {"x": f32(64, 128, seed=5)})["y"], run_graph(g, {"x": f32(64, 128, seed=5)})["y"]
    )


def test_a_cycle_is_reported_with_its_nodes():
    nodes = (
        Node("a", "Relu", ("b.out",), ("a.out",)),
        Node("b", "Relu", ("a.out",), ("b.out",)),
        Node("fc2", "Linear", ("a.out", "fc2.weight"), ("y",)),
    )
    with pytest.raises(GraphError, match="cycle through node.*'a', 'b'"):
        validate(two_layer(nodes=nodes))


def test_an_unknown_op_lists_the_registered_ones():
    nodes = (Node("g", "Frobnicate", ("x",), ("y",)),)
    with pytest.raises(GraphError, match=r"node 'g' \(Frobnicate\): unknown op type 'Frobnicate'; registered ops: .*Linear, .*Relu"):
        validate(two_layer(nodes=nodes))


def test_an_input_nobody_produces_is_named():
    nodes = (Node("r", "Relu", ("nowhere",), ("y",)),)
    with pytest.raises(GraphError, match=r"node 'r' \(Relu\): input 'nowhere' is not a graph input"):
        validate(two_layer(nodes=nodes))


def test_a_tensor_written_twice_is_refused():
    nodes = (Node("r1", "Relu", ("x",), ("y",)), Node("r2", "Relu", ("x",), ("y",)))
    with pytest.raises(GraphError, match="tensor 'y' is produced by both node 'r1' and node 'r2'"):
        validate(two_layer(nodes=nodes))


def test_duplicate_node_names_are_refused():
    nodes = (Node("r", "Relu", ("x",), ("a",)), Node("r", "Relu", ("a",), ("y",)))
    with pytest.raises(GraphError, match="node name.*used twice: 'r'"):
        validate(two_layer(nodes=nodes))


def test_a_missing_graph_output_is_named():
    g = two_layer(hidden_in_fc2=256)
    with pytest.raises(GraphError, match="graph output 'logits' is not produced"):
        validate(Graph(g.name, g.inputs, g.initializers, g.nodes, ("logits",)))


def test_wrong_arity_and_unknown_attributes_name_the_node():
    with pytest.raises(GraphError, match=r"node 'fc' \(Linear\): takes 2 to 3 inputs"):
        validate(two_layer(nodes=(Node("fc", "Linear", ("x",), ("y",)),)))
    with pytest.raises(GraphError, match=r"node 'r' \(Relu\): unknown attribute\(s\) slope"):
        validate(two_layer(nodes=(Node("r", "Relu", ("x",), ("y",), {"slope": 0.1}),)))


def test_a_float64_weight_is_refused_rather_than_silently_slow():
    g = two_layer(hidden_in_fc2=256)
    inits = {**g.initializers, "fc2.weight": g.initializers["fc2.weight"].astype(np.float64)}
    with pytest.raises(GraphError, match="node 'fc2' .*weight 'fc2.weight' has dtype float64 but Linear computes in float32"):
        validate(Graph(g.name, g.inputs, inits, g.nodes, g.outputs))


def test_run_graph_matches_a_numpy_forward_pass():
    g = two_layer(hidden_in_fc2=256)
    x = f32(64, 128, seed=9)
    w = g.initializers
    h = np.maximum(x.astype(np.float64) @ w["fc1.weight"] + w["fc1.bias"], 0)
    expected = h @ w["fc2.weight"] + w["fc2.bias"]
    out = run_graph(g, {"x": x})
    assert set(out) == {"y"}
    np.testing.assert_allclose(out["y"], expected, rtol=1e-4, atol=1e-4)


def test_run_graph_refuses_inputs_that_do_not_match_the_specs():
    g = two_layer(hidden_in_fc2=256)
    with pytest.raises(GraphError, match=r"input 'x' is float32\(32, 128\) but the graph expects float32\(64, 128\)"):
        run_graph(g, {"x": f32(32, 128)})
    with pytest.raises(GraphError, match=r"input 'x' is float64\(64, 128\)"):
        run_graph(g, {"x": f32(64, 128).astype(np.float64)})
    with pytest.raises(GraphError, match=r"needs input x: float32\(64, 128\) but it was not given"):
        run_graph(g, {})
    with pytest.raises(GraphError, match="has no input.*'z'"):
        run_graph(g, {"x": f32(64, 128), "z": f32(1)})


def test_nodes_are_frozen():
    node = Node("r", "Relu", ["x"], ["y"])
    assert node.inputs == ("x",)
    with pytest.raises(AttributeError):
        node.name = "s"
