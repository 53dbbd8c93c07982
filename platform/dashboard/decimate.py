"""Server-side decimation of long series: Largest-Triangle-Three-Buckets
(Steinarsson 2013) keeps the points that shape the line, so a step, a spike
or a change point survives while 50,000 points become a few thousand."""
from __future__ import annotations

from collections.abc import Sequence


def lttb_indices(xs: Sequence[float], ys: Sequence[float], target: int) -> list[int]:
    """Indices (increasing) of at most `target` points of the series (xs increasing)
    to draw; all of them when there are no more than `target`. The first and
    last points are always kept."""
    n = len(xs)
    if len(ys) != n:
        raise ValueError(f"xs and ys differ in length: {n} != {len(ys)}")
    if target < 3:
        raise ValueError(f"target: expected at least 3 points, got {target}")
    if n <= target:
        return list(range(n))
    kept = [0]
    every = (n - 2) / (target - 2)
    a = 0
    for i in range(target - 2):
        start, end = int(i * every) + 1, int((i + 1) * every) + 1
        # the average of the next bucket (the last point for the last bucket)
        nxt_start, nxt_end = end, min(int((i + 2) * every) + 1, n)
        if nxt_start >= nxt_end:
            nxt_start, nxt_end = n - 1, n
        count = nxt_end - nxt_start
        avg_x = sum(xs[nxt_start:nxt_end]) / count
        avg_y = sum(ys[nxt_start:nxt_end]) / count
        ax, ay = xs[a], ys[a]
        best, best_area = start, -1.0
        for j in range(start, end):
            area = abs((ax - avg_x) * (ys[j] - ay) - (ax - xs[j]) * (avg_y - ay))
            if area > best_area:
                best, best_area = j, area
        kept.append(best)
        a = best
    kept.append(n - 1)
    return kept
