"""Network-aware activation ranges: which tensors need no negative range.

A tensor is `nonnegative` when
- its producer cannot output a negative value: Relu, Sigmoid, or a
  FusedLinear / FusedConv whose activation is Relu or Sigmoid;
- it is an initializer with no negative entry;
- it is a pure rearrangement or max/average of non-negative tensors
  (Reshape, Transpose, Slice, MaxPool, AveragePool, GlobalAveragePool, a
  Concat of non-negative inputs), so the DLRM / ResNet patterns
  Relu -> MaxPool -> Conv keep the property;
- or every reader is a Relu and it is not a graph output: whatever negative
  value it holds is clipped to 0 next anyway, so quantizing it to 0 changes
  nothing downstream.

Such a tensor can be quantized unsigned (uint8 0..255 over [0, amax]): the
same 8 bits, twice the resolution of the signed grid, which spends half its
levels on values that never occur.
"""
from __future__ import annotations

from engine.ir import Graph, Node

_NONNEGATIVE_OPS = {"Relu", "Sigmoid"}
_NONNEGATIVE_ACTIVATIONS = {"Relu", "Sigmoid"}
_PRESERVING_OPS = {"Reshape", "Transpose", "Slice", "MaxPool", "AveragePool", "GlobalAveragePool", "Concat"}


def _index(graph: Graph) -> tuple[dict[str, Node], dict[str, list[Node]]]:
    producer: dict[str, Node] = {}
    readers: dict[str, list[Node]] = {}
    for node in graph.nodes:
        for t in node.outputs:
            producer[t] = node
        for t in node.inputs:
            readers.setdefault(t, []).append(node)
    return producer, readers


def nonnegative(graph: Graph, tensor: str) -> bool:
    """True when `tensor` never needs a negative quantization range (see module docstring)."""
    producer, readers = _index(graph)
    known = {s.name for s in graph.inputs} | set(graph.initializers) | set(producer)
    if tensor not in known:
        raise KeyError(f"graph {graph.name!r} has no tensor {tensor!r}")
    return _nonnegative(graph, tensor, producer, readers, set())


def nonnegative_tensors(graph: Graph) -> set[str]:
    """Every node output of `graph` that `nonnegative` accepts."""
    producer, readers = _index(graph)
    return {t for t in producer if _nonnegative(graph, t, producer, readers, set())}


def _produced_nonnegative(graph: Graph, tensor: str, producer: dict[str, Node],
                          readers: dict[str, list[Node]], seen: set[str]) -> bool:
    if tensor in graph.initializers:
        arr = graph.initializers[tensor]
        return arr.size > 0 and bool((arr >= 0).all())
    node = producer.get(tensor)
    if node is None:  # a graph input: nothing known about its values
        return False
    if node.op in _NONNEGATIVE_OPS:
        return True
    if node.op in ("FusedLinear", "FusedConv"):
        return node.attrs.get("activation") in _NONNEGATIVE_ACTIVATIONS
    if node.op in _PRESERVING_OPS and tensor not in seen:
        seen.add(tensor)
        data = node.inputs if node.op == "Concat" else node.inputs[:1]
        return all(_produced_nonnegative(graph, t, producer, readers, seen) for t in data)
    return False


def _nonnegative(graph: Graph, tensor: str, producer: dict[str, Node],
                 readers: dict[str, list[Node]], seen: set[str]) -> bool:
    if _produced_nonnegative(graph, tensor, producer, readers, seen):
        return True
    found = readers.get(tensor, [])
    return bool(found) and tensor not in graph.outputs and all(n.op == "Relu" for n in found)


__all__ = ["nonnegative", "nonnegative_tensors"]
