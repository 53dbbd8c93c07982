"""Autotune: the highest throughput whose p99 is within an SLO, searched
over the sweep's grid by optuna's TPE sampler, not a hand-written search.
Each configuration is evaluated at most once (`sweep` measures it in its
rounds back to back: engine.sweep.measure.back_to_back): a repeated
suggestion is answered from what was measured and costs no evaluation.

With a few evaluations (40% of the grid) TPE needs help to beat random search:
- the numeric knobs (threads, batch, instances) are suggested as their index
  in sorted order, so its Parzen estimators see that batch 128 lies between
  64 and 256; the knobs are modelled jointly (multivariate, grouped); only a
  third of the evaluations are random start trials; and a quarter of the
  trials, not a tenth, count as the good ones TPE samples near;
- the SLO shapes the objective instead of being an optuna constraint: a
  configuration over it scores throughput x (SLO / p99)^3, so one just over
  still tells TPE where throughput is (the best under an SLO lies at its edge),
  where a constraint only marks it infeasible;
- a batch larger than one whose p99 was over the SLO, the other knobs the
  same, is answered without measuring (it scores 0): one pass of a larger
  batch takes longer.
Replayed over two measured dlrm grids (benchmarks/autotune_vs_grid.py, README),
50 seeds at four SLOs each, the last two changed the seeds within 5% of the
best from 16, 29, 37, 43 to 35, 31, 43, 43 (32 configurations, 12
evaluations) and from 49, 38, 47, 50 to 38, 41, 49, 50 (128 configurations,
51 evaluations): better overall, worse at the second grid's tightest SLO."""
from __future__ import annotations

import time
import warnings
from collections.abc import Sequence

from engine.sweep.grid import SweepConfig
from engine.sweep.measure import Measure, Progress
from engine.sweep.report import KNOBS, STATUS_OK, ConfigResult

TRIALS_PER_EVALUATION = 20  # optuna's suggestions may repeat; this many per allowed evaluation, then stop
STARTUP_SHARE = 1 / 3  # of the evaluations spent on random trials before TPE models the rest
ORDINAL = ("threads", "batch", "instances")  # suggested by index in sorted order
OVER_SLO_POWER = 3  # how steeply a configuration's score falls with its p99 over the SLO


def score(result: ConfigResult, slo_p99_ms: float) -> float:
    """What TPE maximises: the throughput, shrunk by (SLO / p99)^3 when p99 is
    over the SLO; 0 for a configuration that failed or cannot run here."""
    if result.status != STATUS_OK or result.throughput is None or result.p99_ms is None:
        return 0.0
    return result.throughput / max(1.0, result.p99_ms / slo_p99_ms) ** OVER_SLO_POWER


def other_knobs(config: SweepConfig | ConfigResult) -> tuple:
    """Every knob's value but the batch's."""
    return tuple(getattr(config, k) for k in KNOBS if k != "batch")


def _good_trials(n: int) -> int:
    """How many of `n` trials TPE models as the good ones: a quarter plus one
    (optuna's default, a tenth, leaves one or two of a dozen)."""
    return min(int(0.25 * n) + 1, 25)


def _suggest(trial, name: str, values: list):
    if len(values) == 1:  # a knob the grid does not vary is no dimension of the search
        return values[0]
    if name in ORDINAL:
        return values[trial.suggest_int(name, 0, len(values) - 1)]
    return trial.suggest_categorical(name, values)


def autotune(configs: Sequence[SweepConfig], measure: Measure, *, slo_p99_ms: float, max_evaluations: int,
             seed: int = 0, budget_s: float | None = None, progress: Progress | None = None) -> list[ConfigResult]:
    """The configurations measured, in the order they were; the best under
    the SLO among them is report.best_under_slo's answer."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    choices = {k: list(dict.fromkeys(getattr(c, k) for c in configs)) for k in KNOBS}
    for k in ORDINAL:
        choices[k].sort()
    grid = set(configs)
    with warnings.catch_warnings():
        # `group` is marked experimental (in optuna since 2.8); `gamma` is deprecated since 4.9, its removal
        # planned for 6.0 (pyproject pins < 6): without it the made-up replays fall from 72% to about 53%
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", message=".*`gamma` has been deprecated", category=FutureWarning)
        sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True, gamma=_good_trials,
                                             n_startup_trials=max(1, round(max_evaluations * STARTUP_SHARE)))
    study = optuna.create_study(direction="maximize", sampler=sampler)
    measured: dict[SweepConfig, ConfigResult] = {}
    over_from: dict[tuple, int] = {}  # the other knobs -> the smallest batch measured over the SLO
    start = time.monotonic()
    for _ in range(max_evaluations * TRIALS_PER_EVALUATION):
        if len(measured) >= min(max_evaluations, len(grid)):
            break
        if budget_s is not None and time.monotonic() - start >= budget_s:
            break
        trial = study.ask()
        config = SweepConfig(**{k: _suggest(trial, k, v) for k, v in choices.items()})
        if config in measured:
            study.tell(trial, score(measured[config], slo_p99_ms))
            continue
        others = other_knobs(config)
        # Not in the grid (a caller's hand-picked list, not a product), or a batch past one over the SLO.
        if config not in grid or config.batch > over_from.get(others, config.batch):
            study.tell(trial, 0.0)
            continue
        result = measured[config] = measure(config)
        if progress is not None:
            progress(result)
        if result.status == STATUS_OK and result.p99_ms is not None and result.p99_ms > slo_p99_ms:
            over_from[others] = config.batch  # the smallest: a larger one is never measured after it
        study.tell(trial, score(result, slo_p99_ms))
    return list(measured.values())
