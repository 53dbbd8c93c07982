"""Labelled synthetic benchmark series for the change-detection evaluation.

Every series is a level (1.0, times steps) times (1 + noise). Noise models:
gaussian, student-t (3 degrees of freedom: heavy tails), bimodal (a second
mode a few sigma slower, hit by 10-40% of runs), and "engine": relative
residuals of real repeated engine runs on this machine, resampled and scaled
to the same sigma range (make_engine_noise.py records them); "engine_raw" is
the same at its raw size. Autocorrelated noise, where a run's state (heat,
background load, caches) persists into the next: "ar1", AR(1) with phi
0.3-0.8, and "wander", white noise plus a slow AR(1) component (phi 0.9-0.97,
30-70% of the variance). Both have their marginal sigma in SIGMA_RANGE. Scenarios: no change, slow drift, one change,
several changes, a large change with only 3-5 points after it. Any scenario
may get single-run outliers (a slow run, +20-100%).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

NOISE_MODELS = ("gaussian", "student_t", "bimodal", "engine", "ar1", "wander")
AUTOCORRELATED = ("ar1", "wander")
# real engine noise at its raw size on this shared 2-core machine (MAD 2-40%):
# reported on its own, not part of the overall figures
RAW_NOISE_MODEL = "engine_raw"
SCENARIOS = ("none", "drift", "one", "several", "short_tail")
CHANGE_FREE = ("none", "drift")

STEP_RANGE = (0.02, 0.50)  # relative step sizes, log-uniform
TAIL_STEP_RANGE = (0.10, 0.50)  # "large" steps for the short-tail scenario
SIGMA_RANGE = (0.0025, 0.01)  # relative noise of the synthetic models, log-uniform
AR_PHI_RANGE = (0.3, 0.8)  # lag-1 autocorrelation of "ar1"
WANDER_PHI_RANGE = (0.9, 0.97)  # of the slow part of "wander"
WANDER_SHARE_RANGE = (0.3, 0.7)  # the slow part's share of the variance
DRIFT_RANGE = (0.03, 0.10)  # total drift over the series
OUTLIER_RATE = 0.01  # chance per point of a single slow run
MIN_SPACING = 15  # points between changes in the "several" scenario
DEFAULT_NOISE_FILE = Path(__file__).resolve().parent.parent / "data" / "engine_noise.json"


@dataclass
class LabelledSeries:
    values: np.ndarray
    changes: list[int]  # first index of each new regime
    noise: str
    scenario: str
    spread: np.ndarray | None = None
    sigma: float = 0.0  # marginal relative noise (the CV); raw engine noise: its robust sigma
    step_sizes: list[float] = field(default_factory=list)


class EngineNoise:
    """Relative residuals (and relative IQRs) of real engine series."""

    def __init__(self, path: Path = DEFAULT_NOISE_FILE, min_runs: int = 30):
        doc = json.loads(Path(path).read_text())
        self.residuals = []
        self.spreads = []
        for entry in doc["series"].values():
            med = np.asarray(entry["median"], dtype=float)
            if med.size < min_runs:
                continue
            centre = np.median(med)
            self.residuals.append(med / centre - 1.0)
            self.spreads.append(np.asarray(entry["iqr"], dtype=float) / centre)
        if not self.residuals:
            raise ValueError(f"{path}: no series with at least {min_runs} runs")

    def sample(self, rng: np.random.Generator, n: int, sigma: float | None) -> tuple[np.ndarray, np.ndarray]:
        """n residuals of one real series drawn with replacement (iid: the
        time order of the recorded runs is not kept).

        With sigma, residuals and spreads are rescaled so that the residuals'
        robust sigma (1.4826 MAD) is sigma: the shape of the real noise (skew,
        outliers, modes) with a chosen size. Without, the raw scale of this
        machine."""
        which = rng.integers(len(self.residuals))
        idx = rng.integers(self.residuals[which].size, size=n)
        residuals, spreads = self.residuals[which][idx], self.spreads[which][idx]
        if sigma is not None:
            res = self.residuals[which]
            factor = sigma / (1.4826 * np.median(np.abs(res - np.median(res))))
            residuals, spreads = residuals * factor, spreads * factor
        return residuals, spreads


def _log_uniform(rng, lo, hi, size=None):
    return np.exp(rng.uniform(np.log(lo), np.log(hi), size))


def _ar1(rng, phi: float, sigma: float, n: int) -> np.ndarray:
    """Stationary AR(1) of marginal sigma (its first value drawn from the stationary law)."""
    shocks = rng.standard_normal(n) * sigma * np.sqrt(1 - phi * phi)
    shocks[0] = sigma * rng.standard_normal()
    out = np.empty(n)
    acc = 0.0
    for i in range(n):
        acc = phi * acc + shocks[i]
        out[i] = acc
    return out


def make_noise(rng, model: str, n: int, engine: EngineNoise | None):
    """(relative noise, relative within-run spread, marginal sigma) of one series."""
    if model == "engine_raw":
        noise, spread = engine.sample(rng, n, None)
        return noise, spread, float(1.4826 * np.median(np.abs(noise - np.median(noise))))
    sigma = float(_log_uniform(rng, *SIGMA_RANGE))
    if model == "engine":
        return (*engine.sample(rng, n, sigma), sigma)
    if model == "gaussian":
        noise = sigma * rng.standard_normal(n)
    elif model == "student_t":
        noise = sigma * rng.standard_t(3, n) / np.sqrt(3.0)  # unit variance
    elif model == "bimodal":
        slow = rng.random(n) < rng.uniform(0.1, 0.4)
        noise = sigma * (rng.standard_normal(n) + slow * rng.uniform(3.0, 5.0))
    elif model == "ar1":
        noise = _ar1(rng, rng.uniform(*AR_PHI_RANGE), sigma, n)
    elif model == "wander":
        share = rng.uniform(*WANDER_SHARE_RANGE)
        slow = _ar1(rng, rng.uniform(*WANDER_PHI_RANGE), sigma * np.sqrt(share), n)
        noise = slow + sigma * np.sqrt(1 - share) * rng.standard_normal(n)
    else:
        raise ValueError(f"unknown noise model {model!r}; expected one of {NOISE_MODELS}")
    # within-run IQR of 30 repeats whose median has this sigma: IQR = 1.349 s,
    # sigma_median = 1.25 s / sqrt(30)
    spread = np.full(n, 1.349 * sigma * np.sqrt(30) / 1.25) * rng.uniform(0.8, 1.25, n)
    return noise, spread, sigma


def _change_positions(rng, n: int, scenario: str) -> list[int]:
    if scenario in CHANGE_FREE:
        return []
    if scenario == "short_tail":
        return [n - int(rng.integers(3, 6))]
    if scenario == "one":
        return [int(rng.integers(10, n - 9))]
    count = int(rng.integers(2, 5))
    while True:
        pos = np.sort(rng.choice(np.arange(MIN_SPACING, n - MIN_SPACING + 1), count, replace=False))
        if np.all(np.diff(pos) >= MIN_SPACING):
            return [int(p) for p in pos]


def make_series(rng, noise_model: str, scenario: str, n: int, engine: EngineNoise | None) -> LabelledSeries:
    changes = _change_positions(rng, n, scenario)
    level = np.ones(n)
    sizes = []
    for pos in changes:
        lo, hi = TAIL_STEP_RANGE if scenario == "short_tail" else STEP_RANGE
        size = float(_log_uniform(rng, lo, hi)) * (1 if rng.random() < 0.5 else -1)
        # an improvement of x% is a factor 1/(1+x): both directions equally large
        factor = 1 + size if size > 0 else 1 / (1 - size)
        level[pos:] *= factor
        sizes.append(factor - 1)
    if scenario == "drift":
        total = float(rng.uniform(*DRIFT_RANGE)) * (1 if rng.random() < 0.5 else -1)
        level *= 1 + total * np.linspace(0.0, 1.0, n)
    noise, spread, sigma = make_noise(rng, noise_model, n, engine)
    values = level * (1 + noise)
    outliers = rng.random(n) < OUTLIER_RATE
    values[outliers] *= 1 + rng.uniform(0.2, 1.0, int(outliers.sum()))
    return LabelledSeries(values, changes, noise_model, scenario, spread * level, sigma, sizes)


def make_suite(
    seed: int, per_cell: int, n: int = 200, noise_file: Path = DEFAULT_NOISE_FILE, models=NOISE_MODELS
) -> list[LabelledSeries]:
    """per_cell series for every (noise model, scenario) pair, reproducible from seed."""
    rng = np.random.default_rng(seed)
    engine = EngineNoise(noise_file)
    return [
        make_series(rng, model, scenario, n, engine)
        for model in models
        for scenario in SCENARIOS
        for _ in range(per_cell)
    ]
