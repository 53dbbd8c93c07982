"""The detectors compared in detection_eval.py, each as values -> change indices.

Every peer runs with its own published defaults; none is tuned on the
evaluation. Changes smaller than the same relative floor as ours
(`min_rel_change`, medians of the neighbouring segments) are dropped from
every method that has no magnitude filter of its own, so all methods get
the same "too small to report" rule.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "platform"))
from regressions.changepoints import MIN_REL_CHANGE, detect_changes  # noqa: E402


def ours(values, spread=None):
    return [c.index for c in detect_changes(values, spread=spread)]


def magnitude_filter(values, indices, min_rel=MIN_REL_CHANGE):
    """Keep the change points whose neighbouring segments' medians differ by min_rel."""
    values = np.asarray(values, dtype=float)
    indices = sorted(set(int(i) for i in indices if 0 < i < values.size))
    bounds = [0, *indices, values.size]
    kept = []
    for j, k in enumerate(indices, start=1):
        before = np.median(values[bounds[j - 1] : k])
        after = np.median(values[k : bounds[j + 1]])
        if before != 0 and abs(after / before - 1) >= min_rel:
            kept.append(k)
    return kept


def _noise_sigma(values):
    """MAD of successive differences, the usual robust sigma for a penalty."""
    d = np.abs(np.diff(values))
    return float(np.median(d)) / (0.6745 * math.sqrt(2)) or float(np.std(values)) or 1.0


# --- asv -----------------------------------------------------------------------
def asv_step_detect(values, spread=None):
    """asv.step_detect.detect_steps (the L1 Potts fit with automatic gamma that
    `asv publish` uses); every segment boundary is a change."""
    from asv.step_detect import detect_steps

    steps = detect_steps(list(map(float, values)))
    return magnitude_filter(values, [left for left, *_ in steps[1:]])


# --- ruptures PELT -------------------------------------------------------------
def ruptures_pelt(values, spread=None):
    """ruptures.Pelt, least-squares cost, BIC penalty 2 sigma^2 ln(n) with a
    robust sigma, min_size 3 (ruptures docs' user guide usage)."""
    import ruptures as rpt

    y = np.asarray(values, dtype=float)
    sigma = _noise_sigma(y)
    algo = rpt.Pelt(model="l2", min_size=3, jump=1).fit(y.reshape(-1, 1))
    bkps = algo.predict(pen=2 * sigma**2 * math.log(y.size))
    return magnitude_filter(y, bkps[:-1])


# --- E-divisive (Apache Otava, formerly MongoDB's Hunter) -------------------------
def otava_edivisive(values, spread=None):
    """otava.analysis.compute_change_points with Otava's CLI defaults:
    window 50, max p-value 0.001 (its t-test significance on merge)."""
    from otava.analysis import compute_change_points

    cps, _ = compute_change_points(list(map(float, values)), window_len=50, max_pvalue=0.001)
    return magnitude_filter(values, [cp.index for cp in cps])


# --- Perfherder ---------------------------------------------------------------
# Re-implemented from mozilla/treeherder, treeherder/perfalert/perfalert/__init__.py
# (detect_changes: min_back_window=12, max_back_window=24, fore_window=12,
# t_threshold=7, linear weights on the back window, a point is a change when its
# t exceeds the threshold and both neighbours' t), the windows as set in
# treeherder/config/settings.py (PERFHERDER_ALERTS_MIN_BACK_WINDOW = 12,
# _MAX_BACK_WINDOW = 24, _FORE_WINDOW = 12) and the alert threshold there,
# PERFHERDER_REGRESSION_THRESHOLD = 2 (percent; treeherder/perf/alerts.py skips
# changes below it). One value per revision here.
PH_MIN_BACK, PH_MAX_BACK, PH_FORE, PH_T = 12, 24, 12, 7.0
PH_ALERT_PCT = 2.0


def _ph_stats(values, weights):
    avg = float(np.sum(values * weights) / np.sum(weights))
    n = values.size
    var = float(np.sum((values - avg) ** 2) / (n - 1)) if n > 1 else 0.0
    return avg, n, var


def perfherder_ttest(values, spread=None):
    y = np.asarray(values, dtype=float)
    n = y.size
    t = np.zeros(n)
    back_n = np.zeros(n, dtype=int)
    fore_n = np.zeros(n, dtype=int)
    last_seen = 0
    for i in range(1, n):
        width = min(max(last_seen, PH_MIN_BACK), PH_MAX_BACK)
        back = y[max(0, i - width) : i][::-1]  # most recent first, as treeherder
        fore = y[i : i + PH_FORE]
        back_n[i], fore_n[i] = back.size, fore.size
        # linear_weights(i, n) = (n - i) / n over the window
        b_avg, b_n, b_var = _ph_stats(back, (back.size - np.arange(back.size)) / back.size)
        f_avg, f_n, f_var = _ph_stats(fore, (fore.size - np.arange(fore.size)) / fore.size)
        delta = f_avg - b_avg
        if delta == 0:
            ti = 0.0
        elif b_var == 0 and f_var == 0:
            ti = math.inf
        else:
            ti = abs(delta / math.sqrt(b_var / b_n + f_var / f_n))
        t[i] = ti
        last_seen = 0 if ti > PH_T else last_seen + 1
    found = []
    for i in range(1, n):
        if back_n[i] < PH_MIN_BACK or fore_n[i] < PH_FORE or t[i] <= PH_T:
            continue
        if t[i - 1] > t[i] or (i + 1 < n and t[i + 1] > t[i]):
            continue
        back = y[max(0, i - PH_MIN_BACK) : i]
        fore = y[i : i + PH_FORE]
        prev, new = float(np.mean(back)), float(np.mean(fore))
        if prev and abs(new / prev - 1) * 100 >= PH_ALERT_PCT:
            found.append(i)
    return found


METHODS = {
    "roofwatch": ours,
    "asv step_detect": asv_step_detect,
    "ruptures PELT": ruptures_pelt,
    "E-divisive (otava)": otava_edivisive,
    "Perfherder t-test": perfherder_ttest,
}
