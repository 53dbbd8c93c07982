"""The op registry: op type -> op class. Add one module per op family and list
its classes here; the graph refuses any op type that is not registered."""
from __future__ import annotations

from engine.ops.activation import Relu
from engine.ops.base import Op, Shape, ShapeError
from engine.ops.linear import Linear

OPS: dict[str, type[Op]] = {cls.op_type: cls for cls in (Linear, Relu)}


class UnknownOpError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


def get_op(op_type: str) -> type[Op]:
    try:
        return OPS[op_type]
    except KeyError:
        raise UnknownOpError(
            f"unknown op type {op_type!r}; registered ops: {', '.join(sorted(OPS))}"
        ) from None


__all__ = ["OPS", "Op", "Shape", "ShapeError", "UnknownOpError", "get_op"]
