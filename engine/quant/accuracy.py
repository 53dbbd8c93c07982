"""Accuracy delta of a quantized graph against the fp32 graph, on held-out
synthetic inputs (several seeds, none of them the timing seed or the
calibration seeds).

Always: max and mean abs error over every output element. Plus one agreement
metric that fits the model's output:

- auc_agreement, for ranking models (one probability per sample: dlrm, wdl,
  din, dien, and any model whose output is (batch, 1), e.g. an mlp with
  sizes ending in 1): labels are "the fp32 score is above the fp32 median";
  the agreement is the AUC of the quantized scores against those labels
  (1.0 = every pair across the median is ordered as fp32 orders it).
- top1_agreement, for classifiers (logits over classes: resnet): the share of
  samples whose arg-max class is the fp32 one.
- none, for feature outputs that are neither: the transformer (encoder
  hidden states, (batch, seq, d_model)) and the default mlp ((batch, 256)
  features). Only the abs errors are reported then.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
import numpy as np
from scipy.stats import rankdata

from engine.executor import run_graph
from engine.ir import Graph
from engine.report import Accuracy

ACCURACY_SEEDS = (1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008)  # held out: timing uses 0, calibration 1..64
CALIBRATION_SEEDS = tuple(range(1, 65))  # the pool; calibration_inputs takes as many as it needs
CALIBRATION_SAMPLES = 512  # calibrate static ranges on at least this many samples (TensorRT suggests ~500)
MIN_CALIBRATION_BATCHES = 4
RANKING_MODELS = frozenset({"dlrm", "wdl", "din", "dien"})
CLASSIFIERS = frozenset({"resnet"})
AUC, TOP1, NO_METRIC = "auc_agreement", "top1_agreement", "none"


@dataclass(frozen=True)
class AccuracyDelta:
    samples: int
    max_abs_error: float
    mean_abs_error: float
    metric: str  # AUC | TOP1 | NO_METRIC
    agreement: float | None  # None exactly when metric is NO_METRIC

    def to_report(self, fp32_layers: Sequence[str], calibration: str | None) -> Accuracy:
        """The report's `accuracy` field."""
        return Accuracy(samples=self.samples, max_abs_error=self.max_abs_error, mean_abs_error=self.mean_abs_error,
                        metric=self.metric, agreement=self.agreement, fp32_layers=list(fp32_layers),
                        calibration=calibration)


def metric_for(model_name: str, output_shape: Sequence[int]) -> str:
    family = model_name.removesuffix("_small")
    if family in RANKING_MODELS:
        return AUC
    if family in CLASSIFIERS:
        return TOP1
    if len(output_shape) in (1, 2) and (len(output_shape) == 1 or output_shape[1] == 1):
        return AUC
    return NO_METRIC


def auc_agreement(reference: np.ndarray, scores: np.ndarray) -> float | None:
    """AUC of `scores` against labels "reference above its median"; None
    when the reference gives no two sides (all values equal)."""
    reference, scores = np.ravel(reference).astype(np.float64), np.ravel(scores).astype(np.float64)
    positive = reference > np.median(reference)
    n_pos = int(positive.sum())
    n_neg = positive.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = rankdata(scores)  # ties share their mean rank: a tie counts half, as in the Mann-Whitney U
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def top1_agreement(reference: np.ndarray, scores: np.ndarray) -> float:
    ref = np.asarray(reference).reshape(-1, reference.shape[-1])
    got = np.asarray(scores).reshape(-1, scores.shape[-1])
    return float(np.mean(ref.argmax(axis=1) == got.argmax(axis=1)))


def _per_sample(outputs: Sequence[Mapping[str, np.ndarray]], name: str) -> np.ndarray:
    """The named output of every batch, one row per sample (the leading axis)."""
    return np.concatenate([np.atleast_1d(out[name]).reshape(np.atleast_1d(out[name]).shape[0], -1)
                           for out in outputs])


def compare_outputs(model_name: str, reference_graph: Graph, fp32: Sequence[Mapping[str, np.ndarray]],
                    quantized: Sequence[Mapping[str, np.ndarray]]) -> AccuracyDelta:
    """The delta from already computed outputs (one mapping per input batch);
    the agreement metric reads the graph's first output."""
    max_err, abs_sum, count = 0.0, 0.0, 0
    for ref, got in zip(fp32, quantized, strict=True):
        for name in reference_graph.outputs:
            diff = np.abs(got[name].astype(np.float64) - ref[name].astype(np.float64))
            if diff.size:
                max_err = max(max_err, float(diff.max()))
                abs_sum += float(diff.sum())
                count += diff.size
    first = reference_graph.outputs[0]
    first_ref, first_got = _per_sample(fp32, first), _per_sample(quantized, first)
    metric = metric_for(model_name, np.shape(fp32[0][first]))
    agreement: float | None = None
    if metric == AUC:
        agreement = auc_agreement(first_ref, first_got)
        if agreement is None:
            metric = NO_METRIC
    elif metric == TOP1:
        agreement = top1_agreement(np.concatenate([r[first] for r in fp32]),
                                   np.concatenate([q[first] for q in quantized]))
    return AccuracyDelta(samples=max(first_ref.shape[0], 1), max_abs_error=max_err,
                         mean_abs_error=abs_sum / count if count else 0.0, metric=metric, agreement=agreement)


class Evaluator:
    """Holds the fp32 outputs on the held-out inputs, so that comparing many
    quantized variants of one model (the selective sweep) runs fp32 once."""

    def __init__(self, model_name: str, reference: Graph, make_inputs: Callable[[int], Mapping[str, np.ndarray]],
                 seeds: Sequence[int] = ACCURACY_SEEDS) -> None:
        if not seeds:
            raise ValueError("accuracy needs at least one input seed")
        self.model_name, self.reference = model_name, reference
        self.inputs = [make_inputs(seed) for seed in seeds]
        self.fp32 = [run_graph(reference, x) for x in self.inputs]

    def delta(self, quantized: Graph) -> AccuracyDelta:
        if tuple(quantized.outputs) != tuple(self.reference.outputs):
            raise ValueError(f"quantized graph outputs {quantized.outputs} differ from fp32 "
                             f"outputs {self.reference.outputs}")
        return compare_outputs(self.model_name, self.reference, self.fp32,
                               [run_graph(quantized, x) for x in self.inputs])


def accuracy_delta(model_name: str, reference: Graph, quantized: Graph,
                   make_inputs: Callable[[int], Mapping[str, np.ndarray]],
                   seeds: Sequence[int] = ACCURACY_SEEDS) -> AccuracyDelta:
    """Max/mean abs error and the model's agreement metric of `quantized`
    against `reference` (fp32) over make_inputs(seed) for each seed."""
    return Evaluator(model_name, reference, make_inputs, seeds).delta(quantized)


def calibration_inputs(make_inputs: Callable[[int], Mapping[str, np.ndarray]],
                       seeds: Sequence[int] | None = None) -> list[Mapping[str, np.ndarray]]:
    """Input batches for int8-static calibration: make_inputs(seed) for
    `seeds`, by default enough of CALIBRATION_SEEDS for CALIBRATION_SAMPLES
    samples (at least MIN_CALIBRATION_BATCHES batches). Too few samples set
    ranges that held-out inputs exceed: a batch-8 mlp calibrated on 32
    samples clips its inputs at 3.0 where held-out ones reach 4."""
    if seeds is not None:
        return [make_inputs(seed) for seed in seeds]
    first = make_inputs(CALIBRATION_SEEDS[0])
    batch = max([int(arr.shape[0]) for arr in first.values() if np.ndim(arr)] or [1])
    wanted = max(MIN_CALIBRATION_BATCHES, -(-CALIBRATION_SAMPLES // batch))
    return [first, *(make_inputs(seed) for seed in CALIBRATION_SEEDS[1:wanted])]
