"""Selective quantization: a sensitivity sweep that keeps the layers that hurt
accuracy most in fp32 until an accuracy budget is met.

1. For every quantizable layer, quantize only that layer and measure the
   accuracy delta against fp32 (engine.quant.accuracy) on held-out inputs.
2. Quantize everything; while the budget does not hold, return the next most
   sensitive layer to fp32 and measure the whole configuration again.

The layers are really quantized (the kernels `run --quant` uses), so what the
sweep measures is what a run with the resulting --quant-fp32 list computes.
int8-static calibrates once for all layers; a layer's static range does not
depend on which other layers are quantized (it comes from the fp32 graph).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from engine.ir import Graph
from engine.quant.collect import calibrate_amax
from engine.quant.accuracy import (
    ACCURACY_SEEDS,
    CALIBRATION_SEEDS,
    NO_METRIC,
    AccuracyDelta,
    Evaluator,
    calibration_inputs,
)
from engine.quant.modes import (
    DEFAULT_CALIBRATION,
    STATIC,
    QuantError,
    QuantRequest,
    quantizable_layers,
    quantize_layers,
    resolve_quant,
)


@dataclass(frozen=True)
class Budget:
    """Accuracy the quantized model must keep: max abs error at most
    `max_abs_error` and/or agreement (AUC or top-1) at least `min_agreement`."""

    max_abs_error: float | None = None
    min_agreement: float | None = None

    def __post_init__(self) -> None:
        if self.max_abs_error is None and self.min_agreement is None:
            raise QuantError("an accuracy budget needs --max-abs-error and/or --min-agreement")
        if self.max_abs_error is not None and not self.max_abs_error >= 0:
            raise QuantError(f"--max-abs-error must be >= 0, got {self.max_abs_error}")
        if self.min_agreement is not None and not 0 <= self.min_agreement <= 1:
            raise QuantError(f"--min-agreement must be in [0, 1], got {self.min_agreement}")

    def met(self, delta: AccuracyDelta) -> bool:
        if self.max_abs_error is not None and delta.max_abs_error > self.max_abs_error:
            return False
        return self.min_agreement is None or (delta.agreement is not None and delta.agreement >= self.min_agreement)

    def harm(self, delta: AccuracyDelta) -> tuple[float, float, float]:
        """Sort key, larger = more harmful: agreement lost first when the
        budget asks for agreement, then max and mean abs error."""
        lost = 1.0 - delta.agreement if self.min_agreement is not None and delta.agreement is not None else 0.0
        return (lost, delta.max_abs_error, delta.mean_abs_error)

    def __str__(self) -> str:
        parts = []
        if self.max_abs_error is not None:
            parts.append(f"max abs error <= {self.max_abs_error:g}")
        if self.min_agreement is not None:
            parts.append(f"agreement >= {self.min_agreement:g}")
        return " and ".join(parts)


@dataclass(frozen=True)
class Sensitivity:
    layer: str
    mode: str
    delta: AccuracyDelta  # with only this layer quantized


@dataclass(frozen=True)
class Step:
    fp32_layers: tuple[str, ...]
    delta: AccuracyDelta  # with every other quantizable layer quantized


@dataclass(frozen=True)
class SweepResult:
    request: QuantRequest
    budget: Budget
    sensitivities: list[Sensitivity]  # most harmful first
    steps: list[Step]  # the first quantizes everything; each next one keeps one more layer in fp32
    met: bool

    @property
    def fp32_layers(self) -> list[str]:
        return list(self.steps[-1].fp32_layers) if self.steps else []

    @property
    def final(self) -> AccuracyDelta | None:
        return self.steps[-1].delta if self.steps else None


def sensitivity_sweep(
    model_name: str,
    graph: Graph,
    request: str | QuantRequest,
    make_inputs: Callable[[int], Mapping[str, np.ndarray]],
    budget: Budget,
    *,
    accuracy_seeds: Sequence[int] = ACCURACY_SEEDS,
    calibration_seeds: Sequence[int] = CALIBRATION_SEEDS,
    reference: Graph | None = None,
) -> SweepResult:
    """Run the sweep on `graph` (after any passes: layer names are its node
    names); accuracy is measured against `reference` (default `graph`; the
    unoptimized model, as `run` measures it). Raises QuantError when --min-agreement is asked of a model with
    no agreement metric."""
    request = resolve_quant(request)
    if request.is_none:
        raise QuantError("quant-sweep needs a --quant mode other than 'none'")
    evaluator = Evaluator(model_name, reference if reference is not None else graph, make_inputs, accuracy_seeds)
    candidates = quantizable_layers(graph, request)
    if not candidates:
        return SweepResult(request, budget, [], [], met=True)
    act_amax = None
    static = [graph.node(name).inputs[0] for name, mode in candidates.items() if mode == STATIC]
    if static:
        act_amax = calibrate_amax(graph, static, calibration_inputs(make_inputs, calibration_seeds),
                                  request.calibration or DEFAULT_CALIBRATION)

    def measure(layers: Mapping[str, str]) -> AccuracyDelta:
        return evaluator.delta(quantize_layers(graph, layers, act_amax=act_amax))

    sensitivities = [Sensitivity(name, mode, measure({name: mode})) for name, mode in candidates.items()]
    if budget.min_agreement is not None and sensitivities[0].delta.metric == NO_METRIC:
        raise QuantError(f"--min-agreement: model {model_name!r} has no agreement metric (its output is neither "
                         "one score per sample nor class logits); budget it with --max-abs-error")
    sensitivities.sort(key=lambda s: budget.harm(s.delta), reverse=True)
    kept: list[str] = []
    steps = [Step((), measure(candidates))]
    for sens in sensitivities:
        if budget.met(steps[-1].delta):
            break
        kept.append(sens.layer)
        steps.append(Step(tuple(kept), measure({n: m for n, m in candidates.items() if n not in kept})))
    return SweepResult(request, budget, sensitivities, steps, met=budget.met(steps[-1].delta))
