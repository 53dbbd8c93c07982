"""Match detections to true changes and sum up precision, recall, F1, false alerts."""

from __future__ import annotations

from dataclasses import dataclass, field

TOLERANCE = 2  # a detection within +-2 points of a true change is a hit


def match(truth: list[int], found: list[int], tolerance: int = TOLERANCE) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives); each true change
    and each detection is used at most once, nearest pairs first."""
    pairs = sorted(
        (abs(t - f), i, j) for i, t in enumerate(truth) for j, f in enumerate(found) if abs(t - f) <= tolerance
    )
    used_t, used_f = set(), set()
    for _, i, j in pairs:
        if i not in used_t and j not in used_f:
            used_t.add(i)
            used_f.add(j)
    tp = len(used_t)
    return tp, len(found) - tp, len(truth) - tp


@dataclass
class Tally:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    free_points: int = 0  # points in change-free series
    free_alerts: int = 0  # detections in change-free series
    seconds: float = 0.0
    delays: list[int] = field(default_factory=list)
    missed_delay: int = 0  # single changes not found within the delay horizon
    big_delays: list[int] = field(default_factory=list)  # steps >= 5% at CV <= 2%
    big_missed: int = 0

    def add(self, truth, found, n_points, change_free):
        tp, fp, fn = match(truth, found)
        self.tp += tp
        self.fp += fp
        self.fn += fn
        if change_free:
            self.free_points += n_points
            self.free_alerts += len(found)

    @property
    def precision(self):
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self):
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self):
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def false_per_1000(self):
        return 1000 * self.free_alerts / self.free_points if self.free_points else 0.0
