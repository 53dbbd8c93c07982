"""An op's bytes split per operand: how much of each input it reads and of
each output it writes. The split follows the op's own `bytes` formula
(engine.ops), so per operand the numbers add up to the layer's reported
bytes, and the estimate can say which of those bytes a fusion removes.

Ops whose formula is not the base Op's (every input read whole, every
output written once) get a rule here; the tests check the split against
every zoo layer's bytes.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from engine.ir import Node, TensorSpec
from engine.ops.base import numel


def tensor_bytes(spec: TensorSpec) -> int:
    return numel(spec.shape) * np.dtype(spec.dtype).itemsize


def node_traffic(node: Node, specs: Mapping[str, TensorSpec]) -> tuple[list[int], list[int]]:
    """(bytes read per input slot, bytes written per output) of `node`."""
    ins = [tensor_bytes(specs[t]) for t in node.inputs]
    outs = [tensor_bytes(specs[t]) for t in node.outputs]
    if node.op == "Reshape":  # a view: nothing moves
        return [0] * len(ins), [0] * len(outs)
    if node.op in ("Transpose", "Slice"):  # reads exactly the elements it copies
        return [outs[0]], outs
    if node.op == "Gather":  # the gathered rows of data, all the indices
        return [outs[0], ins[1]], outs
    if node.op == "EmbeddingBag":  # one table row per index
        (rows, dim), n = specs[node.inputs[0]].shape, numel(specs[node.inputs[1]].shape)
        return [ins[0] // rows * n if rows else 0, ins[1], ins[2]], outs
    return ins, outs  # Concat reads every input whole too
