"""What a benchmark model is: named, typed parameters with defaults, and a
builder that returns the graph plus a seeded synthetic-input maker."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.ir import Graph

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
