"""Creeping drift: a slow ramp, or a run of small steps, whose total over a
window reaches the minimum relative change while no single step is big enough
for the step detector (numpy only, no Django).

`detect_drifts(values)`, in order:

1. The step detector's changes (`detect_changes`, or the ones given) are
   taken out of the series (each level jump subtracted) for the noise
   estimates below; the ramp search itself reads the series as it is.
2. Outliers are pulled to within CLIP_SIGMAS of a running median of 5.
3. Every window of WINDOWS points gets an OLS slope (all at once, from
   cumulative sums). Its standard error is the larger of two: the one implied
   by the residual noise around lines through BLOCK-point blocks with its
   lag-1/lag-2 autocorrelation (rho_k = rho_1 * decay^(k-1), the exact
   variance of a slope under it, never below independence), and, with enough
   windows, the robust spread (MAD) of all that length's window slopes in the
   piece, which holds whatever the noise's dependence is (a ramp is a few
   outlying windows). A window whose slope is DRIFT_SIGMAS standard errors
   from 0 and whose fitted total reaches `min_rel_change` is a candidate.
4. Overlapping candidates of one sign are one ramp. A flat-ramp-flat line
   (two knots) fitted around them gives its start and end. It is a drift
   only if its ramp spans MIN_RAMP points or more and fits better than the
   best single step by RAMP_OVER_STEP noise variances; else a step explains
   it (the step detector's business). A step change inside an accepted ramp
   is the ramp's, listed in `Drift.steps`, so the caller files one alert.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np

from regressions.changepoints import SPREAD_NOISE_FRACTION, Change, as_series, detect_changes, noise_scale, rel_change

WINDOWS = (20, 30, 45, 60)
"""Window lengths (points) over which a trend is fitted."""
DRIFT_SIGMAS = 5.0
"""A window's slope must be this many standard errors from 0 (many overlapping
windows are tested; calibrated with benchmarks/drift_eval.py --seed 1)."""
MIN_RAMP = 5
"""Points a ramp needs between its knots: a shorter one is a step."""
BLOCK = 40
"""Points per block whose line residuals give the noise and its dependence."""
MIN_WINDOWS_FOR_SPREAD = 40
"""Window slopes of one length a piece needs before their spread is trusted."""
CLIP_SIGMAS = 3.0
MAX_DECAY = 0.95
RAMP_OVER_STEP = 12.0
"""How much less (in noise variances) a ramp's squared error must be than the
best single step's for the change to count as a ramp."""
PAD = 10
"""Points either side of the candidates the ramp's knots may move into."""


@dataclass(frozen=True)
class Drift:
    """One ramp (indices into the input).

    start: first point of the ramp (the last point before it is the last of
    the old level). end: last point of the ramp. reached: the first point where
    the fitted ramp's total reached `min_rel_change` (the alert's first bad run).
    before, after: fitted levels at the start and the end. rel_change:
    (after - before) / |before|. confidence: 1 - a Bonferroni-bounded p-value.
    steps: the indices of the step detector's changes inside the ramp (the
    ramp explains them: file the drift, not them).
    """

    start: int
    end: int
    reached: int
    before: float
    after: float
    rel_change: float
    confidence: float
    steps: tuple[int, ...] = ()


def detect_drifts(
    values: Sequence[float],
    *,
    spread: Sequence[float] | None = None,
    min_rel_change: float,
    changes: Sequence[Change] | None = None,
) -> list[Drift]:
    """Ramps of `values` (time order) totalling at least `min_rel_change`, oldest first.

    `changes`: the step detector's changes of these values; None runs
    `detect_changes` with the same arguments. Non-finite values are ignored.
    Raises ValueError for input that is not 1-D numeric, a `spread` of another
    length, or a `min_rel_change` that is not above 0.
    """
    x, spreads = as_series(values, spread)
    if not (min_rel_change > 0):
        raise ValueError(f"min_rel_change must be a number > 0, got {min_rel_change!r}")
    if changes is None:
        changes = detect_changes(x, spread=spreads, min_rel_change=min_rel_change)
    keep = np.flatnonzero(np.isfinite(x))
    y = x[keep]
    n = y.size
    if n < WINDOWS[0]:
        return []
    floor = 0.0
    if spreads is not None:
        s = spreads[keep]
        s = s[np.isfinite(s) & (s >= 0)]
        if s.size:
            floor = SPREAD_NOISE_FRACTION * float(np.median(s)) / 1.349
    at = [(int(np.searchsorted(keep, c.index)), c) for c in changes]
    flat = y.copy()  # the steps taken out: what is left is noise and ramps
    for k, c in at:
        flat[k:] -= c.after - c.before
    sigma = max(noise_scale(flat), floor)
    if not sigma > 0:
        return []
    y = _clip(y, sigma)
    fits = _window_fits(y)
    if not any((np.abs(total) >= min_rel_change).any() for _, _, _, total in fits):
        return []  # no window moves enough (most series): no noise model needed
    resid_sigma, dep = _block_noise(_clip(flat, sigma))
    resid_sigma = max(resid_sigma, floor)
    drifts = []
    for a, b, reached, before, after, conf in _ramps(y, fits, resid_sigma, dep, min_rel_change):
        steps = tuple(c.index for k, c in at if a <= k <= b)
        drifts.append(Drift(int(keep[a]), int(keep[b]), int(keep[reached]), before, after, rel_change(before, after),
                            conf, steps))
    return drifts


def _window_fits(y: np.ndarray) -> list[tuple[int, float, np.ndarray, np.ndarray]]:
    """(length, sxx, slopes, totals) of the OLS line through every window of each length."""
    n = y.size
    i = np.arange(n, dtype=float)
    c0, c1 = np.concatenate(([0.0], np.cumsum(y))), np.concatenate(([0.0], np.cumsum(i * y)))
    fits = []
    for length in WINDOWS:
        if length > n:
            break
        s = np.arange(n - length + 1)
        e = s + length
        sum_y, sum_iy = c0[e] - c0[s], c1[e] - c1[s]
        sxx = length * (length * length - 1) / 12
        slope = (sum_iy - (s + (length - 1) / 2) * sum_y) / sxx
        start_level = sum_y / length - slope * (length - 1) / 2
        with np.errstate(divide="ignore", invalid="ignore"):  # from 0 s: inf as in rel_change; flat at 0: nan, no ramp
            fits.append((length, sxx, slope, slope * (length - 1) / np.abs(start_level)))
    return fits


def _ramps(y: np.ndarray, fits: list, sigma: float, dep: tuple[float, float], min_rel: float) -> list[tuple]:
    """(start, end, reached, before, after, confidence) of each ramp of the clipped series."""
    n = y.size
    candidates = []  # (start, stop, t)
    tested = 0
    for length, sxx, slope, total in fits:
        se = sigma * math.sqrt(_slope_var_factor(length, *dep) / sxx)
        if slope.size >= MIN_WINDOWS_FOR_SPREAD:
            se = max(se, 1.4826 * float(np.median(np.abs(slope - np.median(slope)))))
        if not se > 0:
            continue
        tested += slope.size
        t = slope / se
        hit = (np.abs(t) >= DRIFT_SIGMAS) & (np.abs(total) >= min_rel)
        candidates += [(int(a), int(a) + length, float(t[a])) for a in np.flatnonzero(hit)]
    found = []
    for group in _overlapping(candidates):
        lo = max(0, min(c[0] for c in group) - PAD)
        hi = min(n, max(c[1] for c in group) + PAD)
        fit = _hinge(y[lo:hi], sigma)
        if fit is None:
            continue
        a, b, before, after = fit
        rel = rel_change(before, after)
        if abs(rel) < min_rel or math.copysign(1, rel) != math.copysign(1, group[0][2]):
            continue
        reached = a + min(b - a, max(1, math.ceil(min_rel / abs(rel) * (b - a))))
        tmax = max(abs(c[2]) for c in group)
        conf = float(min(1.0, max(0.0, 1.0 - tested * math.erfc(tmax / math.sqrt(2)))))
        found.append((lo + a, lo + b, lo + reached, before, after, conf))
    return found


def _overlapping(candidates: list[tuple[int, int, float]]) -> list[list[tuple[int, int, float]]]:
    """Candidate windows of one sign that overlap, grouped."""
    groups: list[list[tuple[int, int, float]]] = []
    for c in sorted(candidates):
        g = groups[-1] if groups else None
        if g and c[0] < max(x[1] for x in g) and (c[2] > 0) == (g[0][2] > 0):
            g.append(c)
        else:
            groups.append([c])
    return groups


def _hinge(y: np.ndarray, sigma: float) -> tuple[int, int, float, float] | None:
    """The least-squares level, ramp from knot a to knot b, level: (a, b, level
    before, level after); None where the ramp is shorter than MIN_RAMP points
    or a single step fits nearly as well."""
    n = y.size
    a, b = np.triu_indices(n, 1)
    # h = 0 up to a, (i - a) / (b - a) between, 1 from b on; its sums over i from cumulative sums
    i = np.arange(n, dtype=float)
    c0, c1 = np.concatenate(([0.0], np.cumsum(y))), np.concatenate(([0.0], np.cumsum(i * y)))
    length = (b - a).astype(float)
    tail = n - b
    sum_hy = (c1[b] - c1[a + 1] - a * (c0[b] - c0[a + 1])) / length + c0[n] - c0[b]
    sum_h = (length - 1) / 2 + tail
    sum_hh = (length - 1) * (2 * length - 1) / (6 * length) + tail
    hm = sum_h / n
    shh = sum_hh - sum_h * hm
    shy = sum_hy - sum_h * c0[n] / n
    gain = np.where(shh > 1e-12, shy * shy / np.where(shh > 1e-12, shh, 1), 0.0)  # squared error removed
    k = int(np.argmax(gain))
    step = float(gain[b - a == 1].max())
    if b[k] - a[k] < MIN_RAMP or gain[k] - step < RAMP_OVER_STEP * sigma * sigma:
        return None
    d = shy[k] / shh[k]
    before = float(y.mean() - d * hm[k])
    return int(a[k]), int(b[k]), before, before + float(d)


def _block_noise(y: np.ndarray) -> tuple[float, tuple[float, float]]:
    """Robust sigma and (rho_1, decay) of the residuals around a line per BLOCK points."""
    n = y.size
    resid = []
    for part in np.array_split(y, max(1, n // BLOCK)):
        i = np.arange(part.size) - (part.size - 1) / 2
        resid.append(part - part.mean() - i * (np.dot(i, part) / max(np.dot(i, i), 1e-300)))
    r = np.concatenate(resid)
    sigma = 1.4826 * float(np.median(np.abs(r - np.median(r))))
    var = float(np.mean(r * r))
    if var <= 0 or n < 10:
        return sigma, (0.0, 0.0)
    rho1 = float(np.mean(r[1:] * r[:-1])) / var
    rho2 = float(np.mean(r[2:] * r[:-2])) / var
    if rho1 < 0.1:
        return sigma, (0.0, 0.0)
    decay = min(MAX_DECAY, max(rho1, rho2 / rho1))
    return sigma, (round(min(rho1, 0.99), 2), round(decay, 2))


@lru_cache(maxsize=256)
def _slope_var_factor(length: int, rho: float, decay: float) -> float:
    """w'Rw / w'w for the OLS slope weights w over `length` points, at least 1."""
    if rho <= 0:
        return 1.0
    w = np.arange(length) - (length - 1) / 2
    lags = np.arange(1, length)
    r = rho * decay ** (lags - 1)
    cross = sum(float(r[k - 1] * np.dot(w[:-k], w[k:])) for k in range(1, length))
    return max(1.0, 1.0 + 2 * cross / float(np.dot(w, w)))


def _clip(y: np.ndarray, sigma: float) -> np.ndarray:
    smooth = _running_median5(y)
    return smooth + np.clip(y - smooth, -CLIP_SIGMAS * sigma, CLIP_SIGMAS * sigma)


def _running_median5(y: np.ndarray) -> np.ndarray:
    if y.size < 5:
        return np.full(y.size, np.median(y))
    mid = np.sort(np.lib.stride_tricks.sliding_window_view(y, 5), axis=1)[:, 2]
    return np.concatenate(([mid[0], mid[0]], mid, [mid[-1], mid[-1]]))
