"""Autotune: the highest throughput whose p99 is within an SLO, searched
over the sweep's grid by optuna's TPE sampler with the SLO as a constraint
(`Trial.set_constraint`: p99 - SLO, feasible at or below 0), not a hand-written
search. Each configuration is measured at most once: a repeated suggestion
is answered from what was measured and costs no evaluation.

With a few evaluations (12 of a 32-configuration grid) TPE needs help to beat
random search: the numeric knobs (threads, batch, instances) are suggested as
their index in sorted order, so its Parzen estimators see that batch 128 lies
between 64 and 256; the knobs are modelled jointly (multivariate, grouped);
only a third of the evaluations are random start trials; and a quarter of
the trials, not a tenth, count as the good ones TPE samples near."""
from __future__ import annotations

import time
import warnings
from collections.abc import Sequence

from engine.sweep.grid import SweepConfig
from engine.sweep.measure import Measure, Progress
from engine.sweep.report import KNOBS, STATUS_OK, ConfigResult

CONSTRAINT = "p99_ms_over_slo"
VIOLATION_UNMEASURED = 1e9  # a configuration that failed or cannot run here: as far from feasible as can be
TRIALS_PER_EVALUATION = 20  # optuna's suggestions may repeat; this many per allowed evaluation, then stop
STARTUP_SHARE = 1 / 3  # of the evaluations spent on random trials before TPE models the rest
ORDINAL = ("threads", "batch", "instances")  # suggested by index in sorted order


def _value_and_violation(result: ConfigResult, slo_p99_ms: float) -> tuple[float, float]:
    if result.status != STATUS_OK or result.throughput is None or result.p99_ms is None:
        return 0.0, VIOLATION_UNMEASURED
    return result.throughput, result.p99_ms - slo_p99_ms


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
    start = time.monotonic()
    for _ in range(max_evaluations * TRIALS_PER_EVALUATION):
        if len(measured) >= min(max_evaluations, len(grid)):
            break
        if budget_s is not None and time.monotonic() - start >= budget_s:
            break
        trial = study.ask()
        config = SweepConfig(**{k: _suggest(trial, k, v) for k, v in choices.items()})
        if config not in grid:  # a grid is a product, so only a caller's hand-picked list gets here
            trial.set_constraint(CONSTRAINT, VIOLATION_UNMEASURED)
            study.tell(trial, 0.0)
            continue
        if config not in measured:
            measured[config] = measure(config)
            if progress is not None:
                progress(measured[config])
        value, violation = _value_and_violation(measured[config], slo_p99_ms)
        trial.set_constraint(CONSTRAINT, violation)
        study.tell(trial, value)
    return list(measured.values())
