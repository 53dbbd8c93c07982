"""Change-point detection for noisy benchmark series (numpy only, no Django).

`detect_changes(values)` finds the runs where a series' level moved for good.
The method, in order:

1. Non-finite values (NaN, +-inf) are ignored; indices in the result still
   refer to positions in the input.
2. Noise scale from the data itself: sigma = MAD of successive differences
   (steps barely move it), floored by the within-run spread when given.
3. Outliers are clipped: each value is pulled to within CLIP_SIGMAS of a
   running median of 5, so one or two wild runs cannot fake a step, while
   three or more runs at a new level (a real change, even at the very end of
   the series) pass untouched. The noise of the clipped series, heavy tails
   included, is re-measured from its differences.
4. Seeded binary segmentation (Kovacs et al. 2020): a two-sample statistic
   |mean_right - mean_left| / (sigma * sqrt(1/n_l + 1/n_r)) for every split
   of a fixed set of intervals at geometric scales, all at once from cumulative
   sums. Candidates above the threshold (which grows slowly with the length,
   calibrated on change-free simulated series) are taken strongest first.
5. A candidate is moved to its best local position (outlier-proof fit of two
   levels) and must then pass, within its interval: a jump of at least
   `min_rel_change` between the medians of up to LEVEL_WINDOW points either
   side; the same for the jump left after fitting one common linear trend
   through both sides (so a slow drift is not a step), with a significant
   t-value; and a Mann-Whitney rank test (which no noise shape fools more
   often than its nominal rate). A new regime needs MIN_SEGMENT points.
   Intervals holding an accepted change are dropped, and so on.
6. Finally every change is re-tested on the whole segments around it
   (neighbouring changes as bounds); the weakest ones that fail are merged away.
7. Dependence between neighbouring runs (heat, background load, caches): the
   lag-1 and lag-2 autocorrelation of the clipped series' residuals around the
   segments just found (a line through each, so steps and drifts are not
   dependence). Where the lag-1 one reaches MIN_AUTOCORR, steps 4-6 run again,
   keeping only changes the first pass found, with the noise
   modelled as correlated, rho_k = rho_1 * decay^(k-1) (AR(1) when decay is
   rho_1; a slow wander under white noise has decay > rho_1): every
   two-sample statistic, jump and rank test is scaled by the exact standard
   error of a difference of means under that model (`_dependence_factor`),
   not the independent one. Independent noise never gets there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np

MIN_REL_CHANGE = 0.015
"""Default smallest |after/before - 1| reported. Chosen with
benchmarks/detection_eval.py (tuning seed): under its smallest step, 2%, with
room for the error of the level estimates; 1% let parts of slow drifts through."""

MIN_SEGMENT = 3
"""Points a regime needs to count: one or two odd runs are outliers, three a change."""

LEVEL_WINDOW = 15
"""Points on each side (at most) whose median gives `before` and `after`."""

TREND_WINDOW = 60
"""Points on each side (at most) for the drift check: the jump at a split,
with one common linear trend fitted through both sides, must itself reach
`min_rel_change` and JUMP_SIGMAS standard errors; a slow drift has a trend
but no jump."""
JUMP_SIGMAS = 3.0
JUMP_SIGMAS_IN_DRIFT = 3.5
RANK_SIGMAS = 2.5
"""The two sides of a change must also differ by rank (Mann-Whitney z): for
independent noise its false-alarm rate does not depend on the noise's shape."""
TREND_SIGMAS = 2.0
"""A slope beyond TREND_SIGMAS standard errors is a drift: the jump then has to
clear the stricter JUMP_SIGMAS_IN_DRIFT (many splits of a drift get tested)."""

MIN_AUTOCORR = 0.2
"""Lag-1 autocorrelation of the residuals from which dependence is modelled
(3 standard errors of the estimate from 200 independent points)."""
MAX_DECAY = 0.95
FACTOR_FLOOR = 1.0
"""Short sides next to each other vary less under dependence than apart; the
factor is never taken below this (squared), so a misjudged dependence never
makes a test looser than under independence."""

CLIP_SIGMAS = 3.0
REFINE_REACH = 2
MAX_FAILED_CANDIDATES = 24
"""Candidate splits that may fail their check before the search stops, strongest
first (bounds the time spent on drifting or very noisy series, where hundreds
of splits look strong; accepted ones do not count)."""
SPREAD_NOISE_FRACTION = 0.2
"""With `spread` (IQR) given, the noise scale is at least this fraction of the
median spread / 1.349 (a Gaussian IQR is 1.349 sigma): a floor, not a source
of alerts, that keeps short or quantized series from looking noiseless."""

# Detection threshold on the two-sample statistic: THRESHOLD_BASE +
# THRESHOLD_PER_LOG_N * ln(n). Calibrated on change-free simulated series
# (gaussian, student-t, bimodal) with a seed other than the evaluation's.
THRESHOLD_BASE = 3.2
THRESHOLD_PER_LOG_N = 0.25
_SEED_DECAY = 1 / math.sqrt(2)


@dataclass(frozen=True)
class Change:
    """One change point.

    index: position in the input of the first point of the new regime.
    before, after: medians of up to LEVEL_WINDOW points on either side
    (bounded by the neighbouring changes). rel_change: (after - before) /
    |before|. confidence: 1 - a Bonferroni-bounded p-value of the step, 0..1.
    """

    index: int
    before: float
    after: float
    rel_change: float
    confidence: float


def detect_changes(
    values: Sequence[float],
    *,
    spread: Sequence[float] | None = None,
    min_rel_change: float | None = None,
) -> list[Change]:
    """Change points of `values` (time order), oldest first.

    `spread`: optional within-run spreads (e.g. IQR), same length as `values`.
    `min_rel_change`: smallest |rel_change| reported, default MIN_REL_CHANGE.
    NaN/inf/None values (and such or negative spreads) are ignored. An empty,
    constant, all-NaN or too short series gives []. `rel_change` is
    (after - before) / |before|, i.e. after/before - 1 for positive values;
    +-inf when `before` is 0.
    Raises ValueError only for input that is not a 1-D numeric sequence,
    a `spread` of another length, or a negative `min_rel_change`.
    """
    x, spreads = as_series(values, spread)
    if min_rel_change is None:
        min_rel_change = MIN_REL_CHANGE
    elif not (min_rel_change >= 0):
        raise ValueError(f"min_rel_change must be a number >= 0, got {min_rel_change!r}")
    keep = np.flatnonzero(np.isfinite(x))
    y = x[keep]
    n = y.size
    if n < 2 * MIN_SEGMENT:
        return []
    sigma = noise_scale(y)
    if spreads is not None:
        s = spreads[keep]
        s = s[np.isfinite(s) & (s >= 0)]
        if s.size:
            sigma = max(sigma, SPREAD_NOISE_FRACTION * float(_median(s)) / 1.349)
    if not sigma > 0:
        return []
    clipped = _clip_outliers(y, sigma)
    sigma_eff = _clipped_noise_scale(clipped, sigma)
    cums = np.concatenate(([0.0], np.cumsum(clipped - clipped[0])))
    threshold = _threshold(n)
    dep = _INDEPENDENT
    splits = _segment(y, clipped, cums, sigma_eff, threshold, min_rel_change, dep)
    rho, decay = _residual_autocorr(clipped, splits)
    if rho >= MIN_AUTOCORR:
        # var(diff) = 2 sigma^2 (1 - rho_1) for any stationary noise
        dep = (round(rho, 2), round(decay, 2))
        sigma_eff /= math.sqrt(1 - dep[0])
        # the stricter model only removes changes (the search order, not the
        # tests, could let it reach a blip the first pass never got to)
        first = splits
        splits = [
            k
            for k in _segment(y, clipped, cums, sigma_eff, threshold, min_rel_change, dep)
            if any(abs(k - j) <= REFINE_REACH for j in first)
        ]
    changes = []
    for i, k in enumerate(splits):
        lo = splits[i - 1] if i else 0
        hi = splits[i + 1] if i + 1 < len(splits) else n
        before, after = _levels(y, lo, k, hi)
        t = _statistic(cums, lo, k, hi) / (sigma_eff * _dependence_factor(k - lo, hi - k, dep))
        changes.append(
            Change(
                index=int(keep[k]),
                before=before,
                after=after,
                rel_change=rel_change(before, after),
                confidence=_confidence(t, n),
            )
        )
    return changes


def detect_changes_many(
    series: Sequence[Sequence[float]],
    *,
    spreads: Sequence[Sequence[float] | None] | None = None,
    min_rel_change: float | None = None,
) -> list[list[Change]]:
    """`detect_changes` for each series in turn (one result list per series)."""
    if spreads is not None and len(spreads) != len(series):
        raise ValueError(f"spreads has {len(spreads)} items but series has {len(series)}; they must match")
    return [
        detect_changes(values, spread=None if spreads is None else spreads[i], min_rel_change=min_rel_change)
        for i, values in enumerate(series)
    ]


_INDEPENDENT = (0.0, 0.0)


def _segment(y, clipped, cums, sigma, threshold, min_rel_change, dep) -> list[int]:
    splits = _select_splits(y, clipped, cums, sigma, threshold, min_rel_change, dep)
    return _merge_weak(y, clipped, cums, sigma, threshold, min_rel_change, splits, dep)


def _residual_autocorr(clipped: np.ndarray, splits: list[int]) -> tuple[float, float]:
    """(lag-1 autocorrelation, decay) of the residuals around a line fitted
    through each segment; decay = rho_2 / rho_1, between rho_1 and MAX_DECAY.
    Pairs never straddle a change."""
    bounds = [0, *splits, clipped.size]
    c0 = c1 = c2 = 0.0
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        seg = clipped[lo:hi]
        if seg.size < 2 * MIN_SEGMENT:
            continue
        t = np.arange(seg.size, dtype=float)
        t -= t.mean()
        r = seg - seg.mean() - t * (t @ seg) / (t @ t)
        c0 += float(r @ r)
        c1 += float(r[1:] @ r[:-1])
        c2 += float(r[2:] @ r[:-2])
    if not c0 > 0:
        return 0.0, 0.0
    rho1, rho2 = c1 / c0, c2 / c0
    if rho1 <= 0:
        return rho1, 0.0
    rho1 = min(rho1, MAX_DECAY)
    return rho1, min(max(rho2 / rho1, rho1), MAX_DECAY)


def _dependence_factor(na, nb, dep):
    """sd of mean(right) - mean(left), sides of na and nb adjacent points, under
    noise with autocorrelation rho_k = rho * decay^(k-1), over its value for
    independent noise of the same variance (1 for independent noise)."""
    rho, a = dep
    if rho == 0:
        return 1.0 if np.isscalar(na) and np.isscalar(nb) else np.ones(np.broadcast(na, nb).shape)
    na = np.asarray(na, dtype=float)
    nb = np.asarray(nb, dtype=float)
    q = (1 - a) ** 2

    def within(m):  # sum of all correlations among m consecutive points, / m^2
        return (m + 2 * rho * (m * (1 - a) - (1 - a**m)) / q) / (m * m)

    across = rho * (1 - a**na) * (1 - a**nb) / (q * na * nb)
    var = within(na) + within(nb) - 2 * across
    return np.sqrt(np.maximum(var / (1 / na + 1 / nb), FACTOR_FLOOR))


@lru_cache(maxsize=256)
def _dependent_weights(n: int, dep: tuple[float, float]) -> np.ndarray:
    s, k, e, weight = _seeded_triples(n)
    out = weight / _dependence_factor(k - s, e - k, dep)
    out.setflags(write=False)
    return out


def as_series(values, spread=None) -> tuple[np.ndarray, np.ndarray | None]:
    """`values` and `spread` (None, or one per value) as 1-D float arrays; ValueError naming what is wrong."""
    x = as_1d(values, "values")
    if spread is None:
        return x, None
    spreads = as_1d(spread, "spread")
    if spreads.shape != x.shape:
        raise ValueError(f"spread has {spreads.size} items but values has {x.size}; they must match")
    return x, spreads


def as_1d(seq, name: str) -> np.ndarray:
    try:
        arr = np.asarray(seq, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a sequence of numbers: {exc}") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


def noise_scale(y: np.ndarray) -> float:
    """Sigma of iid noise from successive differences (robust to steps)."""
    d = np.abs(np.diff(y))
    # median |d| of N(0, 2 sigma^2) is 0.6745 * sqrt(2) * sigma
    sigma = float(_median(d)) / (0.6745 * math.sqrt(2))
    if sigma == 0:
        # Quantized or mostly identical values: fall back on the mean |d|
        # (E|d| = 2 sigma / sqrt(pi)), which counts every move.
        sigma = float(np.mean(d)) * math.sqrt(math.pi) / 2
    return sigma


def _running_median5(y: np.ndarray) -> np.ndarray:
    n = y.size
    if n < 5:
        return np.full(n, _median(y))
    mid = np.sort(np.lib.stride_tricks.sliding_window_view(y, 5), axis=1)[:, 2]
    # the first and last two points use the first and last full window
    return np.concatenate(([mid[0], mid[0]], mid, [mid[-1], mid[-1]]))


def _clip_outliers(y: np.ndarray, sigma: float) -> np.ndarray:
    smooth = _running_median5(y)
    return smooth + np.clip(y - smooth, -CLIP_SIGMAS * sigma, CLIP_SIGMAS * sigma)


def _clipped_noise_scale(clipped: np.ndarray, sigma: float) -> float:
    """Root-mean-square noise of the clipped series, from its differences.

    Differences much larger than the noise are steps, not noise, and are left
    out. For gaussian noise this is ~sigma; heavy tails make it larger.
    """
    d = np.diff(clipped)
    d = d[np.abs(d) <= 2.5 * CLIP_SIGMAS * sigma]
    if d.size == 0:
        return sigma
    return max(float(np.sqrt(np.mean(d * d) / 2)), sigma * 0.5)


def _threshold(n: int) -> float:
    return THRESHOLD_BASE + THRESHOLD_PER_LOG_N * math.log(n)


@lru_cache(maxsize=64)
def _seeded_triples(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All (start, split, end) of the seeded intervals for a length, plus weights.

    Interval lengths n, n/sqrt2, n/2, ... down to 2*MIN_SEGMENT; at each length
    the intervals overlap by half and the last one ends at n, so a change
    near the end is covered at every scale.
    """
    starts, splits, ends = [], [], []
    seen = set()
    length = float(n)
    while True:
        span = max(int(round(length)), 2 * MIN_SEGMENT)
        if span > n:
            span = n
        count = max(1, math.ceil(2 * n / span) - 1)
        for s in np.unique(np.round(np.linspace(0, n - span, count)).astype(int)):
            if (s, span) in seen:
                continue
            seen.add((s, span))
            ks = np.arange(s + MIN_SEGMENT, s + span - MIN_SEGMENT + 1)
            starts.append(np.full(ks.size, s))
            splits.append(ks)
            ends.append(np.full(ks.size, s + span))
        if span <= 2 * MIN_SEGMENT:
            break
        length *= _SEED_DECAY
    s = np.concatenate(starts)
    k = np.concatenate(splits)
    e = np.concatenate(ends)
    weight = 1.0 / np.sqrt(1.0 / (k - s) + 1.0 / (e - k))
    for arr in (s, k, e, weight):
        arr.setflags(write=False)
    return s, k, e, weight


def _statistic(cums: np.ndarray, s, k, e):
    """|mean(y[k:e]) - mean(y[s:k])| / sqrt(1/(k-s) + 1/(e-k)) (not yet / sigma)."""
    left = (cums[k] - cums[s]) / (k - s)
    right = (cums[e] - cums[k]) / (e - k)
    return np.abs(right - left) / np.sqrt(1.0 / (k - s) + 1.0 / (e - k))


def _select_splits(y, clipped, cums, sigma, threshold, min_rel_change, dep=_INDEPENDENT) -> list[int]:
    """Greedy seeded binary segmentation: strongest candidate split first.

    A candidate is checked inside its own seeded interval (cut at changes
    already accepted), where a single step is the model; the check is
    `_is_step` after moving the split to its best local position."""
    s, k, e, weight = _seeded_triples(y.size)
    if dep != _INDEPENDENT:
        weight = _dependent_weights(y.size, dep)
    left = (cums[k] - cums[s]) / (k - s)
    right = (cums[e] - cums[k]) / (e - k)
    t = np.abs(right - left) * (weight / sigma)
    hot = np.flatnonzero(t > threshold)
    if hot.size == 0:
        return []
    cs, ck, ce, strength = s[hot], k[hot], e[hot], t[hot]
    accepted: list[int] = []
    moves: dict[tuple[int, int, int], int] = {}
    checked: dict[tuple[int, int, int], bool] = {}
    failures = 0
    while failures < MAX_FAILED_CANDIDATES:
        i = int(np.argmax(strength))
        if strength[i] == -np.inf:
            break
        strength[i] = -np.inf
        split = int(ck[i])
        lo = max([a for a in accepted if a < split], default=0)
        hi = min([a for a in accepted if a > split], default=y.size)
        lo, hi = max(lo, int(cs[i])), min(hi, int(ce[i]))
        best = split
        for _ in range(4):  # walk to where the local fit is best
            key = (best, lo, hi)
            if key not in moves:
                moves[key] = _refine(y, sigma, lo, best, hi)
            if moves[key] == best:
                break
            best = moves[key]
        key = (best, lo, hi)
        if key in checked:
            failures += 1
            continue
        checked[key] = (
            best - lo >= MIN_SEGMENT
            and hi - best >= MIN_SEGMENT
            and best not in accepted
            and _is_step(y, clipped, sigma, lo, best, hi, min_rel_change, dep)
        )
        if checked[key]:
            accepted.append(best)
            strength[((cs < split) & (ce > split)) | ((cs < best) & (ce > best))] = -np.inf
        else:
            failures += 1
    accepted.sort()
    return accepted


def _merge_weak(y, clipped, cums, sigma, threshold, min_rel_change, splits: list[int], dep=_INDEPENDENT) -> list[int]:
    """Drop, weakest first, changes that fail on their whole neighbouring segments."""
    splits = list(splits)
    n = y.size
    while splits:
        scores = []
        for i, k in enumerate(splits):
            lo = splits[i - 1] if i else 0
            hi = splits[i + 1] if i + 1 < len(splits) else n
            t = _statistic(cums, lo, k, hi) / (sigma * _dependence_factor(k - lo, hi - k, dep))
            ok = t > threshold and _is_step(y, clipped, sigma, lo, k, hi, min_rel_change, dep)
            scores.append((ok, t, i))
        failing = [sc for sc in scores if not sc[0]]
        if not failing:
            break
        del splits[min(failing, key=lambda sc: sc[1])[2]]
    return splits


def _refine(y: np.ndarray, sigma: float, lo: int, k: int, hi: int) -> int:
    """The split within REFINE_REACH of k that best fits two local levels:
    least squares around each side's median, every residual capped (at
    CLIP_SIGMAS or half the step, whichever is larger) so that an outlier
    costs the same on either side and cannot pull the split. Ties go to the
    split nearest k. Sides shorter than MIN_SEGMENT are allowed, so that the
    caller sees when the data put the change too close to an edge."""
    a, b = max(lo, k - LEVEL_WINDOW), min(hi, k + LEVEL_WINDOW)
    cap = max(CLIP_SIGMAS * sigma, abs(_median(y[k:b]) - _median(y[a:k])) / 2) ** 2
    cands = np.arange(max(a + 1, k - REFINE_REACH), min(b - 1, k + REFINE_REACH) + 1)
    if cands.size == 0:
        return k
    window = y[a:b]
    pos = np.arange(b - a)
    is_left = pos[None, :] < (cands - a)[:, None]  # one row per candidate split
    cost = _capped_cost(window, is_left, cap) + _capped_cost(window, ~is_left, cap)
    order = np.argsort(np.abs(cands - k), kind="stable")  # ties: nearest k wins
    return int(cands[order[np.argmin(cost[order])]])


def _capped_cost(window: np.ndarray, member: np.ndarray, cap: float) -> np.ndarray:
    """Per row: sum of min((x - median)^2, cap) over the members of the row."""
    count = member.sum(axis=1)
    ranked = np.sort(np.where(member, window[None, :], np.inf), axis=1)
    rows = np.arange(member.shape[0])
    median = (ranked[rows, (count - 1) // 2] + ranked[rows, count // 2]) / 2
    dev = np.minimum((window[None, :] - median[:, None]) ** 2, cap)
    return np.where(member, dev, 0.0).sum(axis=1)


def _is_step(y, clipped, sigma: float, lo: int, k: int, hi: int, min_rel_change: float, dep=_INDEPENDENT) -> bool:
    """The medians around k differ by min_rel_change, and so does the jump
    left after removing a common linear trend (so a drift is not a step).
    Under dependent noise the standard errors and the rank z are scaled by
    the dependence factor of the two sides."""
    before, after = _levels(y, lo, k, hi)
    if abs(rel_change(before, after)) < min_rel_change:
        return False
    a, b = max(lo, k - TREND_WINDOW), min(hi, k + TREND_WINDOW)
    t = np.arange(a - k, b - k, dtype=float)
    design = np.column_stack((np.ones_like(t), t, (t >= 0).astype(float)))
    try:
        gram_inv = np.linalg.inv(design.T @ design)
    except np.linalg.LinAlgError:
        return False
    _, slope, jump = gram_inv @ (design.T @ clipped[a:b])
    factor = _dependence_factor(k - a, b - k, dep)
    slope_se, jump_se = sigma * factor * np.sqrt(np.maximum(np.diag(gram_inv)[1:], 0.0))
    drifting = abs(slope) > TREND_SIGMAS * slope_se
    needed = JUMP_SIGMAS_IN_DRIFT if drifting else JUMP_SIGMAS
    if abs(jump) < min_rel_change * abs(before) or abs(jump) < needed * jump_se:
        return False
    # complete separation passes whatever the factor (a 3-point tail can reach
    # no more), but nothing below RANK_SIGMAS does
    n1, n2 = k - a, b - k
    needed = max(RANK_SIGMAS, min(RANK_SIGMAS * factor, 0.999 * math.sqrt(3 * n1 * n2 / (n1 + n2 + 1))))
    return abs(_rank_z(clipped[a:k], clipped[k:b])) >= needed


def _rank_z(left: np.ndarray, right: np.ndarray) -> float:
    """Mann-Whitney z of right against left (mid-ranks for ties, no tie correction)."""
    both = np.sort(np.concatenate((left, right)))
    # 1-based mid-rank of v: (#values < v + #values <= v + 1) / 2
    rank_sum = (np.searchsorted(both, right, "left") + np.searchsorted(both, right, "right") + 1).sum() / 2.0
    n1, n2 = left.size, right.size
    total = n1 + n2
    return float((rank_sum - n2 * (total + 1) / 2) / math.sqrt(n1 * n2 * (total + 1) / 12))


def _median(x: np.ndarray) -> float:
    """Median of a small non-empty array (np.median's overhead dominates here)."""
    a = np.sort(x)
    n = a.size
    return float(a[(n - 1) // 2] + a[n // 2]) / 2


def _levels(y: np.ndarray, lo: int, k: int, hi: int) -> tuple[float, float]:
    before = float(_median(y[max(lo, k - LEVEL_WINDOW) : k]))
    after = float(_median(y[k : min(hi, k + LEVEL_WINDOW)]))
    return before, after


def rel_change(before: float, after: float) -> float:
    if before == 0:
        return 0.0 if after == 0 else math.copysign(math.inf, after)
    return (after - before) / abs(before)


def _confidence(t: float, n: int) -> float:
    """1 - Bonferroni p-value over the n split points, gaussian tail of t."""
    p = n * math.erfc(t / math.sqrt(2))
    return float(min(1.0, max(0.0, 1.0 - p)))
