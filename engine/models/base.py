"""What a benchmark model is: named, typed parameters with defaults, and a
builder that returns the graph plus a seeded synthetic-input maker; the
factory that makes a model's full and test-size specs from one table, and
the graph builder the model modules share."""
from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.ir import Graph, Node, TensorSpec

InputMaker = Callable[..., dict[str, np.ndarray]]  # make_inputs(seed: int = 0)


class ModelParamError(ValueError):
    """A model parameter with a bad name or value; the message names both."""


@dataclass(frozen=True)
class Param:
    name: str
    default: Any
    help: str
    kind: str = "int"  # "int" | "int_list"
    minimum: int = 1

    def parse(self, text: str) -> Any:
        """The value of `text` as given on a command line ('64', '512,256')."""
        try:
            if self.kind == "int_list":
                return [int(part) for part in text.split(",")]
            return int(text)
        except ValueError:
            what = "comma-separated integers" if self.kind == "int_list" else "an integer"
            raise ModelParamError(f"param {self.name}: expected {what}, got {text!r}") from None

    def check(self, value: Any) -> Any:
        """Validate a Python value and return it in JSON-safe form (lists, ints)."""
        def as_int(v: Any, where: str) -> int:
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise ModelParamError(f"param {where}: expected an integer, got {v!r}")
            if v < self.minimum:
                raise ModelParamError(f"param {where}: must be >= {self.minimum}, got {v}")
            return int(v)

        if self.kind == "int_list":
            if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
                raise ModelParamError(f"param {self.name}: expected a list of integers, got {value!r}")
            return [as_int(v, f"{self.name}[{i}]") for i, v in enumerate(value)]
        return as_int(value, self.name)

    def format(self, value: Any) -> str:
        return ",".join(map(str, value)) if self.kind == "int_list" else str(value)


@dataclass(frozen=True)
class Model:
    name: str
    params: dict[str, Any]  # every param, defaults filled in, JSON-safe
    graph: Graph
    make_inputs: InputMaker


@dataclass(frozen=True)
class ModelSpec:
    name: str
    summary: str
    params: tuple[Param, ...]
    # build(**params) -> (graph, make_inputs); params arrive checked and complete
    build: Callable[..., tuple[Graph, InputMaker]]

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise ModelParamError(
            f"model {self.name!r} has no param {name!r}; its params are "
            f"{', '.join(p.name for p in self.params)}"
        )

    def resolve(self, given: Mapping[str, Any]) -> dict[str, Any]:
        for name in given:
            self.param(name)  # raises for unknown names
        return {p.name: p.check(given.get(p.name, p.default)) for p in self.params}

    def signature(self) -> str:
        """'mlp(batch=64, sizes=512,1024,...)' for listings and errors."""
        return f"{self.name}({', '.join(f'{p.name}={p.format(p.default)}' for p in self.params)})"


# (param name, default, test-size default, help) and optionally a dict of
# Param options (kind, minimum): one row of a model's parameter table.
ParamRow = tuple[Any, ...]
SEED_ROW: ParamRow = ("seed", 0, 0, "seed of the weights", {"minimum": 0})
Builder = Callable[..., tuple[Graph, InputMaker]]


def model_specs(name: str, summary: str, small_summary: str, build: Builder,
                rows: Sequence[ParamRow]) -> tuple[ModelSpec, ModelSpec]:
    """SPEC and SMALL_SPEC of a model from one parameter table (`rows`, then
    SEED_ROW). `build` takes the params and `name`, the graph's name: `name`
    for SPEC, `name`_small for SMALL_SPEC."""
    def params(column: int) -> tuple[Param, ...]:
        return tuple(Param(row[0], row[column], row[3], **(row[4] if len(row) > 4 else {}))
                     for row in (*rows, SEED_ROW))

    small = f"{name}_small"
    return (ModelSpec(name, summary, params(1), functools.partial(build, name=name)),
            ModelSpec(small, small_summary, params(2), functools.partial(build, name=small)))


class GraphBuilder:
    """Collects inputs, seeded float32 weights and nodes; every node writes
    one tensor named like the node unless output names are given."""

    def __init__(self, name: str, seed: int) -> None:
        self.name = name
        self.rng = np.random.default_rng(seed)
        self.inputs: list[TensorSpec] = []
        self.initializers: dict[str, np.ndarray] = {}
        self.nodes: list[Node] = []

    def input(self, name: str, dtype: str, shape: tuple[int, ...]) -> str:
        self.inputs.append(TensorSpec(name, dtype, shape))
        return name

    def const(self, name: str, value: np.ndarray) -> str:
        self.initializers[name] = value
        return name

    def weight(self, name: str, shape: tuple[int, ...], scale: float) -> str:
        return self.const(name, self.rng.standard_normal(shape, dtype=np.float32) * np.float32(scale))

    def op(self, name: str, op: str, inputs: Sequence[str], outputs: Sequence[str] | None = None,
           **attrs: Any) -> str:
        outs = tuple(outputs) if outputs is not None else (name,)
        self.nodes.append(Node(name, op, tuple(inputs), outs, attrs))
        return outs[0]

    def linear(self, name: str, x: str, k: int, n: int, activation: str | None = None) -> str:
        """Linear (Glorot-scaled weights, small biases), then `activation`."""
        w = self.weight(f"{name}.weight", (k, n), np.sqrt(2.0 / (k + n)))
        b = self.const(f"{name}.bias", self.rng.uniform(-0.05, 0.05, size=n).astype(np.float32))
        y = self.op(name, "Linear", (x, w, b))
        return self.op(f"{name}.act", activation, (y,)) if activation else y

    def graph(self, outputs: Sequence[str]) -> Graph:
        return Graph(self.name, tuple(self.inputs), self.initializers, tuple(self.nodes), tuple(outputs))
