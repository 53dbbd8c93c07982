"""The op registry: op type -> op class. Add one module per op family and list
its classes here; the graph refuses any op type that is not registered."""
from __future__ import annotations

from engine.ops.activation import Relu
from engine.ops.attention import MultiHeadAttention
from engine.ops.base import Op, Shape, ShapeError
from engine.ops.conv import Conv2d
from engine.ops.elementwise import Add, Div, Gelu, Mul, Sigmoid, Softmax, Sub, Tanh
from engine.ops.embedding import EmbeddingBag
from engine.ops.embedding_rowwise import EmbeddingBagRowwise, GroupedEmbeddingBagRowwise
from engine.ops.fused import ActivationUnitLinear, FusedConv, FusedLinear, GroupedEmbeddingBag
from engine.ops.interaction import DotInteraction
from engine.ops.linear import Linear
from engine.ops.matmul import MatMul
from engine.ops.norm import BatchNormalization, LayerNormalization
from engine.ops.pool import AveragePool, GlobalAveragePool, MaxPool
from engine.ops.quantized import FakeQuantLinear, Fp16Linear, Int8Linear, Int8OutlierLinear
from engine.ops.quantized_conv import FakeQuantConv, Fp16Conv, Int8Conv
from engine.ops.rnn import AUGRU, GRU
from engine.ops.shape import Concat, Gather, Reshape, Slice, Transpose

OPS: dict[str, type[Op]] = {cls.op_type: cls for cls in (
    Linear, Relu, GRU, AUGRU,
    Add, Sub, Mul, Div, Sigmoid, Tanh, Gelu, Softmax, MatMul, Concat, Reshape, Transpose, Slice, Gather,
    EmbeddingBag, DotInteraction,
    Conv2d, MaxPool, AveragePool, GlobalAveragePool, BatchNormalization, LayerNormalization,
    MultiHeadAttention,
    FusedLinear, FusedConv, GroupedEmbeddingBag, ActivationUnitLinear,  # emitted by engine.passes only
    Int8Linear, Int8OutlierLinear, Fp16Linear, FakeQuantLinear,  # emitted by engine.quant only
    Int8Conv, Fp16Conv, FakeQuantConv,
    EmbeddingBagRowwise, GroupedEmbeddingBagRowwise,  # emitted by engine.quant only
)}


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
