"""Synthetic inputs for an imported ONNX graph, seeded.

Floats are standard normal. Integer inputs need valid values: an explicit
range (`--input-range NAME=LO:HI`, half-open) wins; otherwise the range is
derived from what reads the input -- the indices of a Gather over an axis of
size S, or of an EmbeddingBag over a table of S rows, get [0, S) (the
smallest S when several ops read it), a GRU's sequence_lens get [0, T].
Anything else is an error naming the input, since a made-up range could
index out of bounds.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from engine.ir import Graph, infer_specs
from engine.onnx_io.errors import OnnxIOError


class InputRangeError(OnnxIOError):
    """An integer input with no usable range."""


def parse_input_range(text: str) -> tuple[str, tuple[int, int]]:
    """'ids=0:1000' -> ('ids', (0, 1000)), the range half-open."""
    name, sep, bounds = text.partition("=")
    lo, colon, hi = bounds.partition(":")
    try:
        if not (sep and colon and name):
            raise ValueError
        low, high = int(lo), int(hi)
    except ValueError:
        raise InputRangeError(f"--input-range expects NAME=LO:HI (integers, HI exclusive), got {text!r}") from None
    if high <= low:
        raise InputRangeError(f"--input-range {text!r}: HI must be greater than LO")
    return name, (low, high)


def derived_int_range(graph: Graph, name: str) -> tuple[int, int] | None:
    specs = infer_specs(graph)
    bounds: list[tuple[int, int]] = []
    for node in graph.nodes:
        for pos, t in enumerate(node.inputs):
            if t != name:
                continue
            if node.op == "Gather" and pos == 1:
                axis = int(node.attrs.get("axis", 0))
                bounds.append((0, specs[node.inputs[0]].shape[axis]))
            elif node.op == "EmbeddingBag" and pos == 1:
                bounds.append((0, specs[node.inputs[0]].shape[0]))
            elif node.op in ("GRU", "AUGRU") and pos == len(node.inputs) - 1:
                bounds.append((0, specs[node.inputs[0]].shape[1] + 1))
    if not bounds:
        return None
    return max(lo for lo, _ in bounds), min(hi for _, hi in bounds)


def synthesize_inputs(graph: Graph, seed: int = 0,
                      int_ranges: Mapping[str, tuple[int, int]] | None = None) -> dict[str, np.ndarray]:
    ranges = dict(int_ranges or {})
    unknown = sorted(set(ranges) - {s.name for s in graph.inputs})
    if unknown:
        raise InputRangeError(f"--input-range names {', '.join(map(repr, unknown))}, not input(s) of graph "
                              f"{graph.name!r}; its inputs are {', '.join(s.name for s in graph.inputs)}")
    rng = np.random.default_rng(seed)
    feeds: dict[str, np.ndarray] = {}
    for spec in graph.inputs:
        dtype = np.dtype(spec.dtype)
        if dtype.kind == "f":
            feeds[spec.name] = rng.standard_normal(spec.shape).astype(dtype)
            continue
        if dtype.kind not in "iu":
            raise InputRangeError(f"input {spec} has dtype {spec.dtype}, which cannot be synthesized")
        bounds = ranges.get(spec.name) or derived_int_range(graph, spec.name)
        if bounds is None:
            raise InputRangeError(
                f"integer input {spec} is read by no Gather/EmbeddingBag/GRU lengths that would bound its "
                f"values; give its range with --input-range {spec.name}=LO:HI")
        feeds[spec.name] = rng.integers(bounds[0], bounds[1], size=spec.shape).astype(dtype)
    return feeds


def _onnx_int_range(model: Any, name: str) -> tuple[int, int] | None:
    """[0, S) for an input that indexes axis `axis` (size S) of a Gather over an initializer."""
    sizes = {t.name: list(t.dims) for t in model.graph.initializer}
    bounds = []
    for node in model.graph.node:
        if node.op_type == "Gather" and node.domain in ("", "ai.onnx") and len(node.input) > 1 \
                and node.input[1] == name and node.input[0] in sizes:
            axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
            dims = sizes[node.input[0]]
            bounds.append((0, dims[axis % len(dims)]))
    if not bounds:
        return None
    return max(lo for lo, _ in bounds), min(hi for _, hi in bounds)


def synthesize_onnx_inputs(model: Any, batch: int | None, seed: int = 0,
                           int_ranges: Mapping[str, tuple[int, int]] | None = None,
                           label: str = "model") -> dict[str, np.ndarray]:
    """Seeded inputs for an ONNX model as onnxruntime takes it (no import into
    the engine): floats standard normal, integers in their --input-range or
    [0, S) when they index a Gather over an initializer of S rows; `batch`
    fixes a symbolic first dimension. Errors name the input."""
    from onnx import helper

    initializers = {t.name for t in model.graph.initializer}
    inputs = [vi for vi in model.graph.input if vi.name not in initializers]
    ranges = dict(int_ranges or {})
    unknown = sorted(set(ranges) - {vi.name for vi in inputs})
    if unknown:
        raise InputRangeError(f"--input-range names {', '.join(map(repr, unknown))}, not input(s) of {label}; "
                              f"its inputs are {', '.join(vi.name for vi in inputs)}")
    symbolic = False
    rng = np.random.default_rng(seed)
    feeds: dict[str, np.ndarray] = {}
    for vi in inputs:
        dims = []
        for i, d in enumerate(vi.type.tensor_type.shape.dim):
            if d.HasField("dim_value") and d.dim_value > 0:
                dims.append(d.dim_value)
            elif i == 0 and batch is not None:
                dims.append(batch)
                symbolic = True
            else:
                what = repr(d.dim_param) if d.HasField("dim_param") else "unknown"
                hint = "; give --batch N to fix a symbolic batch dimension" if i == 0 else ""
                raise InputRangeError(f"{label}: input {vi.name!r} dimension {i} is {what}; inputs need "
                                      f"fixed shapes{hint}")
        dtype = helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type)
        if dtype.kind == "f":
            feeds[vi.name] = rng.standard_normal(dims).astype(dtype)
            continue
        if dtype.kind not in "iu":
            raise InputRangeError(f"{label}: input {vi.name!r} has dtype {dtype}, which cannot be synthesized")
        bounds = ranges.get(vi.name) or _onnx_int_range(model, vi.name)
        if bounds is None:
            raise InputRangeError(f"{label}: integer input {vi.name!r} indexes no Gather over an initializer "
                                  f"that would bound its values; give its range with --input-range {vi.name}=LO:HI")
        feeds[vi.name] = rng.integers(bounds[0], bounds[1], size=dims).astype(dtype)
    if batch is not None and not symbolic:
        raise InputRangeError(f"{label}: --batch {batch} given but every input has a fixed batch dimension; "
                              "export the model again at the batch you want")
    return feeds
