"""Calibration data collection: run the fp32 graph on calibration inputs and
feed chosen intermediate tensors (the input activations of the layers to
quantize) into one histogram collector each (engine.quant.calibrate)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from engine.executor import check_inputs, make_plan, run_program, start_env
from engine.ir import Graph
from engine.quant import calibrate, ranges


def capture(graph: Graph, tensors: Sequence[str], inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One fp32 execution of `graph`; returns the named tensors (any of
    inputs, initializers or intermediates) as they were computed."""
    plan = make_plan(graph)
    check_inputs(plan, inputs)
    missing = sorted(set(tensors) - set(plan.slots))
    if missing:
        raise KeyError(f"graph {graph.name!r} has no tensor(s) {', '.join(map(repr, missing))}")
    keep = {plan.slots[t] for t in tensors}  # wanted intermediates outlive their last reader
    program = [(kernel, attrs, ins, outs, tuple(j for j in release if j not in keep), node)
               for kernel, attrs, ins, outs, release, node in plan.program]
    env = start_env(plan, inputs)
    run_program(program, env)
    return {t: env[plan.slots[t]] for t in tensors}

def calibrate_amax(graph: Graph, tensors: Sequence[str], calibration_inputs: Sequence[Mapping[str, np.ndarray]],
                   method: str) -> dict[str, float]:
    """tensor -> amax by `method` over every calibration batch. A tensor that
    is never negative (engine.quant.ranges) is collected as unsigned, so its
    histogram and KL search cover [0, max] with the uint8 grid. Raises
    CalibrationError when there is no calibration data."""
    batches = list(calibration_inputs)
    if not batches:
        raise calibrate.CalibrationError(
            f"static quantization of graph {graph.name!r} needs calibration inputs, got none")
    names = list(dict.fromkeys(tensors))
    collectors = {t: calibrate.HistogramCollector(unsigned=ranges.nonnegative(graph, t)) for t in names}
    for inputs in batches:
        for t, arr in capture(graph, names, inputs).items():
            collectors[t].collect(arr)
    # kl and percentile answer with a histogram bin edge, which after the range doubled can lie
    # past the largest value seen: no range needs to be wider than that value.
    return {t: min(float(c.amax(method)), float(c.max)) for t, c in collectors.items()}
