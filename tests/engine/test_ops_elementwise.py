import math

import numpy as np
import pytest

from engine.ir import Graph, GraphError, Node, TensorSpec, validate
from engine.ops import OPS, ShapeError
from engine.ops.elementwise import Add, Div, Gelu, Mul, Sigmoid, Softmax, Sub, Tanh


def per_element(fn, x):
    return np.array([fn(float(v)) for v in x.ravel()]).reshape(x.shape)


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape, dtype=np.float32) * np.float32(3)


def test_they_are_registered_under_their_onnx_names():
    classes = (Add, Sub, Mul, Div, Sigmoid, Tanh, Gelu, Softmax)
    for cls in classes:
        assert OPS[cls.op_type] is cls
    assert [c.op_type for c in classes] == ["Add", "Sub", "Mul", "Div", "Sigmoid", "Tanh", "Gelu", "Softmax"]


@pytest.mark.parametrize(("op", "fn"), [
    (Add, lambda a, b: a + b), (Sub, lambda a, b: a - b), (Mul, lambda a, b: a * b), (Div, lambda a, b: a / b),
])
def test_binary_ops_broadcast_like_numpy(op, fn):
    a, b = rand(4, 1, 5), rand(3, 1, seed=1)
    (y,) = op.run([a, b], {})
    assert op.infer_shape([a.shape, b.shape], {}) == ((4, 3, 5),) == (y.shape,)
    expected = np.empty((4, 3, 5))
    for i in range(4):
        for j in range(3):
            for k in range(5):
                expected[i, j, k] = fn(float(a[i, 0, k]), float(b[j, 0]))
    np.testing.assert_allclose(y, expected, rtol=1e-6)
    assert y.dtype == np.float32


def test_binary_flops_are_output_elements_and_bytes_both_inputs_plus_output():
    assert Add.flops([(4, 1, 5), (3, 1)], {}) == 60
    assert Mul.bytes([(4, 1, 5), (3, 1)], [(4, 3, 5)], ["float32"] * 3) == 4 * (20 + 3 + 60)


def test_binary_shape_errors_name_both_tensors():
    with pytest.raises(ShapeError, match=r"a 'x' has shape \(4, 5\) and b 'y' has shape \(3,\); they do not broadcast"):
        Add.infer_shape([(4, 5), (3,)], {}, names=("x", "y"))
    with pytest.raises(ShapeError, match="a 'x' is float32 but b 'y' is float16"):
        Mul.infer_dtype(["float32", "float16"], {}, names=("x", "y"))
    with pytest.raises(ShapeError, match="a 'n' has dtype int64 but Div computes in float32 or float16"):
        Div.infer_dtype(["int64", "int64"], {}, names=("n", "d"))


def test_sigmoid_matches_the_formula_and_does_not_overflow():
    x = rand(6, 7)
    x[0, :2] = [-200.0, 200.0]
    (y,) = Sigmoid.run([x], {})
    expected = per_element(lambda v: 1 / (1 + math.exp(-v)) if v > -100 else 0.0, x)
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-30)
    assert y.dtype == np.float32 and np.isfinite(y).all()


def test_tanh_matches_the_formula():
    x = rand(5, 3)
    (y,) = Tanh.run([x], {})
    np.testing.assert_allclose(y, per_element(math.tanh, x), rtol=1e-6, atol=1e-7)


def test_gelu_exact_uses_erf():
    x = rand(4, 9)
    (y,) = Gelu.run([x], {})
    expected = per_element(lambda v: 0.5 * v * (1 + math.erf(v / math.sqrt(2))), x)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
    assert y.dtype == np.float32


def test_gelu_tanh_approximation_follows_its_own_formula():
    x = rand(4, 9)
    (y,) = Gelu.run([x], {"approximate": "tanh"})
    c = math.sqrt(2 / math.pi)
    expected = per_element(lambda v: 0.5 * v * (1 + math.tanh(c * (v + 0.044715 * v ** 3))), x)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
    (exact,) = Gelu.run([x], {})
    assert not np.array_equal(y, exact)


def test_gelu_refuses_an_unknown_approximation():
    with pytest.raises(ShapeError, match="attribute approximate is 'fast'; expected one of 'none', 'tanh'"):
        Gelu.infer_shape([(3,)], {"approximate": "fast"})


def test_unary_flops_follow_the_documented_counts():
    shape = (8, 16)
    assert Sigmoid.flops([shape], {}) == 4 * 128
    assert Tanh.flops([shape], {}) == 5 * 128
    assert Gelu.flops([shape], {"approximate": "none"}) == 5 * 128
    assert Gelu.flops([shape], {"approximate": "tanh"}) == 9 * 128
    assert Softmax.flops([shape], {"axis": -1}) == 5 * 128
    assert Sigmoid.bytes([shape], [shape], ["float32", "float32"]) == 2 * 4 * 128


def reference_softmax(x, axis):
    x = np.moveaxis(x.astype(np.float64), axis, -1)
    out = np.empty_like(x)
    for idx in np.ndindex(x.shape[:-1]):
        row = x[idx]
        e = [math.exp(v - max(row)) for v in row]
        out[idx] = [v / sum(e) for v in e]
    return np.moveaxis(out, -1, axis)


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_matches_the_reference_along_any_axis(axis):
    x = rand(3, 4, 5)
    (y,) = Softmax.run([x], {"axis": axis})
    np.testing.assert_allclose(y, reference_softmax(x, axis), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(y.sum(axis=axis), 1.0, rtol=1e-5)


def test_softmax_is_stable_for_large_logits_and_leaves_its_input_alone():
    x = np.array([[1000.0, 1001.0, 999.0]], dtype=np.float32)
    before = x.copy()
    (y,) = Softmax.run([x], {"axis": -1})
    np.testing.assert_allclose(y, reference_softmax(x - 1000, -1), rtol=1e-5)
    np.testing.assert_array_equal(x, before)


def test_softmax_axis_out_of_range_names_the_input():
    with pytest.raises(ShapeError, match=r"attribute axis 2 is out of range for input 'logits' of rank 2"):
        Softmax.infer_shape([(3, 4)], {"axis": 2}, names=("logits",))


def test_a_graph_with_a_broadcast_mismatch_names_the_node():
    g = Graph(
        "g", (TensorSpec("x", "float32", (2, 3)),), {"b": np.zeros(4, np.float32)},
        (Node("bias_add", "Add", ("x", "b"), ("y",)),), ("y",),
    )
    with pytest.raises(GraphError, match=r"node 'bias_add' \(Add\): a 'x' has shape \(2, 3\) and b 'b'"):
        validate(g)


def run_onnx(op_type, inputs, opset=20, **attrs):
    """One ONNX node run by onnxruntime: the reference our semantics follow."""
    import onnxruntime as ort
    from onnx import helper

    names = [f"in{i}" for i in range(len(inputs))]
    info = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
            for n, a in zip(names, inputs)]
    out = helper.make_tensor_value_info("out", helper.np_dtype_to_tensor_dtype(inputs[0].dtype), None)
    graph = helper.make_graph([helper.make_node(op_type, names, ["out"], **attrs)], op_type, info, [out])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=10)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, dict(zip(names, inputs)))[0]


@pytest.mark.parametrize(
    ("op", "inputs", "attrs"),
    [
        (Add, [rand(4, 1, 5), rand(3, 1, seed=1)], {}),
        (Mul, [rand(2, 3), rand(3, seed=1)], {}),
        (Sub, [rand(2, 3), rand(1, 3, seed=1)], {}),
        (Div, [rand(2, 3), rand(3, seed=1) + np.float32(10)], {}),
        (Sigmoid, [rand(5, 6)], {}),
        (Tanh, [rand(5, 6)], {}),
        (Gelu, [rand(5, 6)], {"approximate": "none"}),
        (Gelu, [rand(5, 6)], {"approximate": "tanh"}),
        (Softmax, [rand(3, 4, 5)], {"axis": 1}),
        (Softmax, [rand(3, 4, 5)], {"axis": -1}),
    ],
)
def test_it_agrees_with_onnxruntime(op, inputs, attrs):
    (y,) = op.run(inputs, op.resolve_attrs(attrs))
    np.testing.assert_allclose(y, run_onnx(op.op_type, inputs, **attrs), rtol=1e-5, atol=1e-6)
