"""The model registry: name -> ModelSpec. Add one module per model family
and list its SPEC here."""
from __future__ import annotations

from typing import Any

from engine.models import dien, din, dlrm, mlp, resnet, transformer, wdl
from engine.models.base import Model, ModelParamError, ModelSpec, Param

MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in (
    mlp.SPEC, din.SPEC, din.SMALL_SPEC, dien.SPEC, dien.SMALL_SPEC,
    dlrm.SPEC, dlrm.SMALL_SPEC, wdl.SPEC, wdl.SMALL_SPEC,
    resnet.SPEC, resnet.SMALL_SPEC, transformer.SPEC, transformer.SMALL_SPEC,
)}


class UnknownModelError(KeyError):
    def __init__(self, name: str) -> None:
        listing = "; ".join(spec.signature() for spec in MODELS.values())
        super().__init__(f"unknown model {name!r}; available models: {listing}")
        self.name = name

    def __str__(self) -> str:
        return str(self.args[0])


def get_spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise UnknownModelError(name) from None


def build_model(name: str, **params: Any) -> Model:
    """Build model `name` with `params` over its defaults. Raises
    UnknownModelError or ModelParamError."""
    spec = get_spec(name)
    resolved = spec.resolve(params)
    graph, make_inputs = spec.build(**resolved)
    return Model(name=name, params=resolved, graph=graph, make_inputs=make_inputs)


__all__ = ["MODELS", "Model", "ModelParamError", "ModelSpec", "Param", "UnknownModelError",
           "build_model", "get_spec"]
