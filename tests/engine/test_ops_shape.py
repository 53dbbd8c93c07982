import numpy as np
import pytest

from engine.ir import Graph, GraphError, Node, TensorSpec, validate
from engine.ops import OPS, ShapeError
from engine.ops.shape import Concat, Gather, Reshape, Slice, Transpose


def arange(*shape):
    return np.arange(np.prod(shape), dtype=np.float32).reshape(shape)


def test_they_are_registered_under_their_onnx_names():
    for cls in (Concat, Reshape, Transpose, Slice, Gather):
        assert OPS[cls.op_type] is cls


def test_concat_joins_along_a_negative_axis_and_copies():
    a, b = arange(2, 3), arange(2, 1) + 100
    (y,) = Concat.run([a, b], {"axis": -1})
    expected = [[0, 1, 2, 100], [3, 4, 5, 101]]
    np.testing.assert_array_equal(y, expected)
    assert Concat.infer_shape([(2, 3), (2, 1)], {"axis": -1}) == ((2, 4),)
    assert not np.shares_memory(y, a)


def test_concat_takes_many_inputs_and_names_the_one_that_does_not_fit():
    Concat.check_arity(30, 1)
    with pytest.raises(ShapeError, match=r"input #2 'c' has shape \(3, 4\) but input #0 'a' has \(2, 4\); "
                                         r"all dimensions but axis 1 must match"):
        Concat.infer_shape([(2, 4), (2, 1), (3, 4)], {"axis": 1}, names=("a", "b", "c"))
    with pytest.raises(ShapeError, match="attribute axis is required"):
        Concat.infer_shape([(2, 4)], {})
    with pytest.raises(ShapeError, match="input #1 'b' is int64 but input #0 'a' is float32"):
        Concat.infer_dtype(["float32", "int64"], {"axis": 0}, names=("a", "b"))


def test_concat_counts_no_flops_and_reads_plus_writes_its_output():
    assert Concat.flops([(2, 3), (2, 1)], {"axis": 1}) == 0
    assert Concat.bytes([(2, 3), (2, 1)], [(2, 4)], ["float32"] * 3) == 2 * 4 * 8


def test_reshape_infers_the_minus_one_and_is_a_free_view():
    x = arange(2, 3, 4)
    (y,) = Reshape.run([x], {"shape": (6, -1)})
    assert y.shape == (6, 4) and Reshape.infer_shape([x.shape], {"shape": [6, -1]}) == ((6, 4),)
    np.testing.assert_array_equal(y.ravel(), x.ravel())
    assert np.shares_memory(x, y)
    assert Reshape.bytes([(2, 3, 4)], [(6, 4)], ["float32", "float32"]) == 0
    assert Reshape.flops([(2, 3, 4)], {"shape": (6, -1)}) == 0


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((5, -1), r"input 'x' has shape \(2, 3, 4\) \(24 elements\), which shape \[5, -1\] cannot hold"),
        ((4, 5), r"input 'x' has shape \(2, 3, 4\) \(24 elements\) but shape \[4, 5\] holds 20"),
        ((-1, -1), r"attribute shape \[-1, -1\] must hold positive sizes and at most one -1"),
        ((0, 24), r"attribute shape \[0, 24\] must hold positive sizes"),
    ],
)
def test_reshape_errors_name_the_input_and_the_target(shape, message):
    with pytest.raises(ShapeError, match=message):
        Reshape.infer_shape([(2, 3, 4)], {"shape": shape}, names=("x",))


def test_transpose_permutes_like_loops_and_returns_a_contiguous_copy():
    x = arange(2, 3, 4)
    (y,) = Transpose.run([x], {"perm": (1, 2, 0)})
    assert y.shape == (3, 4, 2) and y.flags.c_contiguous
    for i in range(2):
        for j in range(3):
            for k in range(4):
                assert y[j, k, i] == x[i, j, k]
    (r,) = Transpose.run([x], {})
    assert r.shape == (4, 3, 2)  # no perm reverses the axes, as ONNX
    assert Transpose.bytes([(2, 3, 4)], [(3, 4, 2)], ["float32", "float32"]) == 2 * 4 * 24


def test_transpose_rejects_a_non_permutation():
    with pytest.raises(ShapeError, match=r"attribute perm \[0, 0, 1\] is not a permutation of the 3 axes "
                                         r"of input 'x' \(2, 3, 4\)"):
        Transpose.infer_shape([(2, 3, 4)], {"perm": [0, 0, 1]}, names=("x",))


def test_slice_follows_onnx_negative_and_clamped_bounds():
    x = arange(4, 6)
    attrs = {"starts": [1, -4], "ends": [100, -1], "axes": [0, 1]}
    (y,) = Slice.run([x], attrs)
    np.testing.assert_array_equal(y, x[1:4, 2:5])
    assert Slice.infer_shape([x.shape], attrs) == ((3, 3),) and y.flags.c_contiguous
    (first_axis,) = Slice.run([x], {"starts": [2], "ends": [3]})
    np.testing.assert_array_equal(first_axis, x[2:3])
    assert Slice.bytes([(4, 6)], [(3, 3)], ["float32", "float32"]) == 2 * 4 * 9


def test_slice_errors_name_the_input_and_the_axis():
    with pytest.raises(ShapeError, match=r"slice \[5:2\] of axis 1 of input 'x' \(4, 6\) is empty"):
        Slice.infer_shape([(4, 6)], {"starts": [5], "ends": [2], "axes": [1]}, names=("x",))
    with pytest.raises(ShapeError, match="starts, ends and axes have lengths 2, 1, 1"):
        Slice.infer_shape([(4, 6)], {"starts": [0, 0], "ends": [1], "axes": [1]})
    with pytest.raises(ShapeError, match="attribute axis 2 is out of range for input 'x' of rank 2"):
        Slice.infer_shape([(4, 6)], {"starts": [0], "ends": [1], "axes": [2]}, names=("x",))


def test_gather_matches_loops_on_an_inner_axis_with_negative_indices():
    data = arange(2, 5, 3)
    idx = np.array([[4, -1], [0, 2]], dtype=np.int64)
    (y,) = Gather.run([data, idx], {"axis": 1})
    assert y.shape == (2, 2, 2, 3) == Gather.infer_shape([data.shape, idx.shape], {"axis": 1})[0]
    for a in range(2):
        for i in range(2):
            for j in range(2):
                np.testing.assert_array_equal(y[a, i, j], data[a, idx[i, j] % 5])


def test_gather_out_of_range_is_a_value_error_naming_the_index():
    data = arange(5, 3)
    with pytest.raises(ValueError, match=r"Gather indices into data axis 0 of size 5: index 7 at position 1 "
                                         r"is out of range \[-5, 5\)"):
        Gather.run([data, np.array([1, 7, 2], dtype=np.int64)], {"axis": 0})
    with pytest.raises(ShapeError, match="indices 'ids' has dtype float32 but must be int64 or int32"):
        Gather.infer_dtype(["float32", "float32"], {}, names=("table", "ids"))


def test_gather_bytes_count_indices_and_only_the_gathered_elements():
    # 3 int64 indices; 3 rows of 4 floats read and written; the 1000-row table is not read whole.
    assert Gather.bytes([(1000, 4), (3,)], [(3, 4)], ["float32", "int64", "float32"]) == 3 * 8 + 2 * 3 * 4 * 4
    assert Gather.flops([(1000, 4), (3,)], {"axis": 0}) == 0


def test_a_graph_of_shape_ops_validates_and_names_the_bad_node():
    g = Graph(
        "g", (TensorSpec("x", "float32", (2, 6)),), {},
        (Node("flat", "Reshape", ("x",), ("f",), {"shape": (3, 4)}),
         Node("t", "Transpose", ("f",), ("y",), {"perm": (1, 0)})),
        ("y",),
    )
    validate(g)
    bad = Graph(g.name, g.inputs, {}, (Node("flat", "Reshape", ("x",), ("y",), {"shape": (5, -1)}),), ("y",))
    with pytest.raises(GraphError, match=r"node 'flat' \(Reshape\): input 'x' has shape \(2, 6\)"):
        validate(bad)


def ints(*values):
    return np.array(values, dtype=np.int64)


@pytest.mark.parametrize(
    ("op", "inputs", "attrs", "onnx_inputs", "onnx_attrs"),
    [
        (Concat, [arange(2, 3), arange(2, 2)], {"axis": -1}, [], {"axis": -1}),
        (Reshape, [arange(2, 3, 4)], {"shape": (4, -1)}, [ints(4, -1)], {}),
        (Transpose, [arange(2, 3, 4)], {"perm": (2, 0, 1)}, [], {"perm": [2, 0, 1]}),
        (Slice, [arange(4, 6)], {"starts": [-3, 1], "ends": [99, -1], "axes": [0, 1]},
         [ints(-3, 1), ints(99, -1), ints(0, 1)], {}),
        (Gather, [arange(5, 3), ints(4, -2, 0)], {"axis": 0}, [], {"axis": 0}),
        (Gather, [arange(2, 5, 3), ints(1, 4)], {"axis": 1}, [], {"axis": 1}),
    ],
)
def test_it_agrees_with_onnxruntime(op, inputs, attrs, onnx_inputs, onnx_attrs):
    from tests.engine.test_ops_elementwise import run_onnx

    (y,) = op.run(inputs, op.resolve_attrs(attrs))
    np.testing.assert_array_equal(y, run_onnx(op.op_type, [*inputs, *onnx_inputs], **onnx_attrs))
