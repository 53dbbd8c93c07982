"""The Op base's defaults: an op states only what differs, but never gets a
FLOP count by omission."""
import pytest

from engine.ops import OPS
from engine.ops.base import Op


def test_an_op_that_states_no_flops_is_refused_not_counted_as_zero():
    class Unstated(Op):
        op_type = "Unstated"

    with pytest.raises(NotImplementedError, match="Unstated states neither flops nor flops_per_element"):
        Unstated.flops([(4, 4)], {})


@pytest.mark.parametrize("op_type", sorted(OPS))
def test_every_registered_op_states_its_flops(op_type):
    cls = OPS[op_type]
    overrides = any("flops" in klass.__dict__ for klass in cls.__mro__ if klass is not Op)
    assert overrides or cls.flops_per_element is not None
