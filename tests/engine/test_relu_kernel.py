import numpy as np
import pytest

from engine.ops import OPS, ShapeError
from engine.ops.activation import Relu


def reference_relu(x):
    return np.array([v if v > 0 else 0.0 for v in x.ravel()], dtype=np.float32).reshape(x.shape)


def test_it_is_registered_under_its_op_type():
    assert OPS["Relu"] is Relu


def test_it_matches_the_elementwise_reference():
    x = np.random.default_rng(3).standard_normal((6, 9), dtype=np.float32)
    x[0, :3] = [0.0, -0.0, 1e-30]
    (y,) = Relu.run([x], {})
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_array_equal(y, reference_relu(x))


def test_it_leaves_its_input_untouched_and_returns_a_new_array():
    x = np.random.default_rng(4).standard_normal((3, 5), dtype=np.float32)
    before = x.copy()
    (y,) = Relu.run([x], {})
    np.testing.assert_array_equal(x, before)
    assert not np.shares_memory(x, y)


def test_shape_flops_and_bytes():
    assert Relu.infer_shape([(64, 256)], {}) == ((64, 256),)
    assert Relu.flops([(64, 256)], {}) == 64 * 256  # one compare per element
    assert Relu.bytes([(64, 256)], [(64, 256)], ["float32", "float32"]) == 2 * 4 * 64 * 256


def test_it_refuses_attributes_it_does_not_have():
    with pytest.raises(ShapeError, match="unknown attribute.*alpha; allowed: none"):
        Relu.resolve_attrs({"alpha": 0.1})
