"""Roofline classification of a performance change between two groups of runs.

For each layer that moved, and for the change as a whole, say why:

- ``compute``   the layer is compute-bound (AI >= ridge), its FLOPs did not
                change, and its achieved FLOP/s fell;
- ``bandwidth`` the layer is memory-bound (AI < ridge) and its achieved GB/s
                fell, or its bytes rose while its FLOPs did not;
- ``work``      the layer's FLOPs or bytes per inference changed and that
                explains most of its time change (the model changed), or the
                layer exists on one side only (new layers, more tables);
- ``overhead``  the layer is too short for the roofline to mean anything (its
                time is dispatch), or the time between the layers moved;
- ``unknown``   nothing to decide from: no layers (asv-imported runs), nothing
                moved enough to matter, or nothing measured per layer moved
                with the end-to-end time; for one layer, a layer that moved
                but whose FLOPs/bytes are unknown (None: an onnxruntime node
                with no formula) on either side, which no roof can judge.

Measurements only: FLOPs, bytes, times and the machine's measured peaks.
Nothing here reads a run's config (fault injection is recorded there and must
not leak into the verdict). Standard library only: no Django, not even numpy.

Times. Each run gives a layer's median (and, from reports, its p25, p75, min
and repeat count). On a shared machine a run's slower repeats are mostly
other processes' time slices, so the per-run time used is the lowest
statistic every observation has (min, else p25, else median; evidence
``time_stat``). A group's level is the median of those over its runs; its
noise is the scatter between the runs (MAD, floored by the median scatter of
the layers of similar time in the group, since the MAD of 2-5 runs is often ~0
by chance), or with one run the within-run IQR. A layer moved when its level
changed by more than MIN_REL_CHANGE and by NOISE_FACTOR standard errors.
Layers whose FLOPs or bytes changed but which did not stand out one by one
are also tested together: if their summed time moved beyond the summed noise
and their work explains it, they are all ``work`` (many small tables).

Work or efficiency (per layer): time = roof_time / efficiency, where roof_time
= max(FLOPs / peak FLOP/s, bytes / peak B/s) is the least time the roofline
allows. If FLOPs or bytes changed and the roof_time ratio accounts for at
least WORK_SHARE of the log time ratio, the change is ``work``; otherwise it is
a change of efficiency, named after the roof that bounds the layer.

Overall: the moved layers' time changes are summed per kind and the kind with
the largest sum in the direction of the layers' total wins, if that total is
at least MIN_TOTAL_SHARE of the layers' time (else ``unknown``). Only when no
layer explains the change does the time between the layers (end-to-end minus
the layers, per run) decide: ``overhead`` if it moved with the end-to-end time,
every run after is apart from every run before, and it moved by at most
MAX_GAP_PER_LAYER per layer (dispatch; more is not). The end-to-end passes take
other processes' time slices that per-layer times leave out, so that figure is
the least trusted. ``share`` is a layer's time change over the total change
that explains the verdict (the moved layers', or the time between them).

What it cannot tell: with one time per layer and the op's nominal FLOPs and
bytes, extra arithmetic and extra memory traffic inside the same layer lower
its FLOP/s and GB/s by the same ratio, so a slowdown is named after the roof
that bounds the layer (extra traffic in a compute-bound layer reads as
``compute``). Telling them apart needs hardware counters.

Peaks: each group's median of its runs' peaks; a group without peaks borrows
the other's; with none at all the roof is the best FLOP/s and the best GB/s
any layer of at least TINY_SECONDS reached in these runs (an empirical lower
bound on the peaks, ``peaks_source: "empirical"``). A layer that carries its
own roofs (``roof_gflops``/``roof_gbs``: the threads its kernel really runs on,
and the stream or gather bandwidth roof) is judged against those instead (the
median over the group's runs that carry them; evidence ``roof_source:
"layer"``): its bound, roof time and % of roof. The work test compares both
sides under the before side's roof: the work differs, not the machine.

Cache: bytes are the op's minimum traffic as if from DRAM, so a cache-resident
layer can run above 100% of the memory roof. Such a layer is still classified
by its bound (a memory-bound layer that fell out of cache is a bandwidth
change) and flagged ``cache_resident``; a layer under TINY_SECONDS both before
and after is ``overhead`` whatever its roof.
"""
from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from statistics import median
from typing import Any

KINDS = ("compute", "bandwidth", "work", "overhead", "unknown")
COMPUTE, BANDWIDTH, WORK, OVERHEAD, UNKNOWN = KINDS

TINY_SECONDS = 10e-6  # a layer below this before and after is dispatch, not roofline
MIN_REL_CHANGE = 0.03  # a layer moves only if its time moved at least this much ...
NOISE_FACTOR = 4.0  # ... and at least this many standard errors of the difference
MIN_ABS_SECONDS = 0.5e-6  # ... and by more than timer resolution
MIN_TOTAL_SHARE = 0.02  # overall: what moved must add up to 2% of the end-to-end time
MAX_GAP_PER_LAYER = 20e-6  # the most the time between layers can plausibly change per layer
COUNT_TOLERANCE = 0.005  # FLOPs/bytes differing by less than this are "unchanged"
WORK_SHARE = 1 / 3  # the share of the log time change the work change must explain
POOL_RATIO = 4.0  # layers within this time ratio share a noise floor
STATS = ("min", "p25", "median")  # per-run time, most robust to other processes first
IQR_TO_SIGMA = 1 / 1.349
MEDIAN_SE = 1.2533  # standard error of a median over that of a mean, normal noise
# Normal noise, ~10 repeats: p25 - min is ~0.87 sigma and the min's standard error ~0.6 sigma.
MIN_SE_PER_LOW_SPREAD = 0.6 / 0.87


@dataclass(frozen=True)
class LayerObs:
    """One layer in one run."""

    name: str
    op: str
    flops: int | None  # None (with bytes): the work is unknown (an onnxruntime layer's work_unknown)
    bytes: int | None
    median: float  # seconds per inference
    # Optional within-run statistics (from reports); when every observation has
    # them they make the verdict robust to other processes' time slices.
    p25: float | None = None
    p75: float | None = None
    min: float | None = None
    n: int | None = None  # timed repeats
    # The layer's own roofs (reports that carry them); None: the run's peaks judge it.
    roof_gflops: float | None = None
    roof_gbs: float | None = None


@dataclass(frozen=True)
class RunObs:
    """One run: its layers and the machine's roofline when measured."""

    layers: tuple[LayerObs, ...]
    end_to_end: float  # median seconds per inference
    peak_gflops: float | None
    peak_gbs: float | None
    end_to_end_p25: float | None = None
    end_to_end_p75: float | None = None
    end_to_end_min: float | None = None
    end_to_end_n: int | None = None


@dataclass(frozen=True)
class LayerVerdict:
    layer: str
    op: str
    kind: str  # one of KINDS
    rel_change: float | None  # after/before - 1 of the layer's time; None when before is 0 or absent
    share: float  # this layer's part of the time change that explains the verdict (0..1-ish)
    evidence: dict


@dataclass(frozen=True)
class Verdict:
    kind: str  # one of KINDS: the kind whose layers explain most of the change
    layers: tuple[LayerVerdict, ...]  # layers that moved significantly, largest contribution first
    evidence: dict


@dataclass(frozen=True)
class _Peaks:
    gflops: float
    gbs: float
    source: str  # "runs" | "empirical"

    @property
    def ridge(self) -> float:
        return self.gflops / self.gbs


@dataclass(frozen=True)
class _Level:
    """A group's robust level of one quantity and the standard error of it."""

    value: float
    abs_noise: float
    rel_sigma: float | None = None  # scatter of one run, relative (None: from a single run)
    values: tuple[float, ...] = ()  # the runs' values


@dataclass(frozen=True)
class _Side:
    """One layer over one group of runs."""

    op: str
    flops: int | None  # None (with bytes): unknown in some run of the group
    bytes: int | None
    time: _Level
    runs: int
    own_roof: _Peaks | None = None  # the layer's own roofs (median over the runs that carry them)

    @property
    def work_known(self) -> bool:
        return self.flops is not None and self.bytes is not None

    def roof(self, peaks: _Peaks) -> _Peaks:
        """The roofs that judge this layer: its own, else the group's peaks."""
        return self.own_roof or peaks

    def roof_time(self, roof: _Peaks) -> float:
        """The least time the roofs `roof` allow for this layer's work (known work only)."""
        return max(self.flops / (roof.gflops * 1e9), self.bytes / (roof.gbs * 1e9))


@dataclass(frozen=True)
class _Change:
    """A group-level time before and after, and whether it moved enough to count."""

    before: _Level
    after: _Level
    threshold: float
    moved: bool

    @property
    def delta(self) -> float:
        return self.after.value - self.before.value


def classify_change(before: Sequence[RunObs], after: Sequence[RunObs]) -> Verdict:
    """Classify the change from the runs `before` to the runs `after` (each
    group one or more runs of the same benchmark on the same machine). The
    evidence is strict JSON (it goes into JSON columns): a quantity that is
    not finite (a ridge of 1e308 GFLOP/s over 1e-9 GB/s) is null."""
    verdict = _classify(before, after)
    layers = tuple(replace(v, evidence=_strict_json(v.evidence)) for v in verdict.layers)
    return Verdict(verdict.kind, layers, _strict_json(verdict.evidence))


def _classify(before: Sequence[RunObs], after: Sequence[RunObs]) -> Verdict:
    before, after = _checked(before, after)
    stat = _common_stat([*before, *after])
    e2e = _end_to_end_change(before, after, stat)
    evidence: dict[str, Any] = {"runs_before": len(before), "runs_after": len(after), "time_stat": stat,
                                **_end_to_end_evidence(e2e)}
    if not any(r.layers for r in before) and not any(r.layers for r in after):
        evidence["reason"] = "no layer measurements on either side (e.g. asv-imported runs)"
        return Verdict(UNKNOWN, (), evidence)

    peaks_b, peaks_a = _peaks(before, after)
    evidence.update(_peaks_evidence(peaks_b, peaks_a))
    sides_b, sides_a = _sides(before, stat), _sides(after, stat)
    verdicts = _layer_verdicts(sides_b, sides_a, peaks_b, peaks_a)
    layer_sum = sum(_delta(v) for v in verdicts)
    # Each move is beyond its own noise already; this drops those too small to matter. The
    # layers' total is the model's size here: the end-to-end time can carry other processes' time.
    layers_total = sum(side.time.value for side in sides_b.values())
    layers_matter = abs(layer_sum) > max(MIN_TOTAL_SHARE * layers_total, MIN_ABS_SECONDS)
    gap = _between_layers_change(before, after, stat, e2e, max(len(sides_b), len(sides_a)), layers_matter)

    contributions = _contributions(verdicts, gap)
    explained = layer_sum if layers_matter else gap.delta if gap.moved else 0.0
    # Shares are parts of what moved, not of the end-to-end change, which on a shared
    # machine can carry other processes' time (both are in the evidence).
    verdicts = sorted((_with_share(v, explained) for v in verdicts), key=lambda v: -abs(_delta(v)))
    evidence.update({
        "layers_moved": len(verdicts),
        "layer_time_before": layers_total,
        "layer_time_change": layer_sum,
        "between_layers_before": gap.before.value,
        "between_layers_after": gap.after.value,
        "between_layers_moved": gap.moved,
        "contributions": contributions,
    })
    return _overall(contributions, explained, tuple(verdicts), e2e.moved, evidence)


def _checked(before: Sequence[RunObs], after: Sequence[RunObs]) -> tuple[list[RunObs], list[RunObs]]:
    before, after = list(before), list(after)
    if not before or not after:
        raise ValueError(f"classify_change: need at least one run on each side, got {len(before)} before "
                         f"and {len(after)} after")
    for side, runs in (("before", before), ("after", after)):
        for i, run in enumerate(runs):
            _check_run(run, f"{side}[{i}]")
    return before, after


def _end_to_end_change(before: Sequence[RunObs], after: Sequence[RunObs], stat: str) -> _Change:
    b = _level([_e2e_time(r, stat) for r in before], [_e2e_se(r, stat) for r in before])
    a = _level([_e2e_time(r, stat) for r in after], [_e2e_se(r, stat) for r in after])
    threshold = _threshold(b.value, b, a)
    return _Change(b, a, threshold, abs(a.value - b.value) > threshold)


def _end_to_end_evidence(e2e: _Change) -> dict[str, Any]:
    return {
        "end_to_end_before": e2e.before.value,
        "end_to_end_after": e2e.after.value,
        "end_to_end_rel_change": _rel(e2e.before.value, e2e.after.value),
        "end_to_end_moved": bool(e2e.moved),
        "end_to_end_threshold": e2e.threshold,
    }


def _layer_verdicts(sides_b: Mapping[str, _Side], sides_a: Mapping[str, _Side],
                    peaks_b: _Peaks, peaks_a: _Peaks) -> list[LayerVerdict]:
    """The layers that moved one by one, then those that moved only together (work)."""
    verdicts: list[LayerVerdict] = []
    for name in [*sides_b, *(n for n in sides_a if n not in sides_b)]:
        verdict = _classify_layer(name, sides_b.get(name), sides_a.get(name), peaks_b, peaks_a)
        if verdict is not None:
            verdicts.append(verdict)
    return verdicts + _collective_work(sides_b, sides_a, {v.layer for v in verdicts}, peaks_b, peaks_a)


def _between_layers_change(before: Sequence[RunObs], after: Sequence[RunObs], stat: str, e2e: _Change,
                           layer_count: int, layers_matter: bool) -> _Change:
    """Time between the layers (dispatch, framework): end-to-end minus the layers, per
    run. A pass longer than the scheduler's time slice takes other processes' slices
    that per-layer times leave out, so on a shared machine this is the noisiest figure:
    it names the change only when no layer explains it, the end-to-end time moved the
    same way, every run after is apart from every run before, and the change is one
    dispatch can make (at most MAX_GAP_PER_LAYER per layer; more is other processes)."""
    gaps_b, gaps_a = [_gap(r, stat) for r in before], [_gap(r, stat) for r in after]
    b, a = _level(gaps_b, [None] * len(gaps_b)), _level(gaps_a, [None] * len(gaps_a))
    delta = a.value - b.value
    threshold = _threshold(e2e.before.value, b, a)
    moved = (not layers_matter and e2e.moved and delta * e2e.delta > 0
             and threshold < abs(delta) <= MAX_GAP_PER_LAYER * layer_count
             and _apart(gaps_b, gaps_a))
    return _Change(b, a, threshold, bool(moved))


def _contributions(verdicts: Sequence[LayerVerdict], gap: _Change) -> dict[str, float]:
    """Time change per kind: the moved layers', and the time between them when it moved."""
    contributions = {k: 0.0 for k in KINDS}  # UNKNOWN: layers whose work is unknown
    for v in verdicts:
        contributions[v.kind] += _delta(v)
    if gap.moved:
        contributions[OVERHEAD] += gap.delta
    return contributions


def _overall(contributions: dict[str, float], explained: float, verdicts: tuple[LayerVerdict, ...],
             e2e_moved: bool, evidence: dict[str, Any]) -> Verdict:
    """The kind with the largest contribution in the direction of what explains the change."""
    direction = math.copysign(1.0, explained) if explained else 0.0
    if direction == 0:
        evidence["reason"] = ("the end-to-end time moved but no layer, nor the time between them, clearly with it"
                              if e2e_moved else "nothing moved enough to matter end to end")
        return Verdict(UNKNOWN, verdicts, evidence)
    kind = max(contributions, key=lambda k: contributions[k] * direction)
    evidence["kind_share"] = contributions[kind] / sum(c for c in contributions.values() if c * direction > 0)
    return Verdict(kind, verdicts, evidence)


def _apart(before: Sequence[float], after: Sequence[float]) -> bool:
    """Every value after on the same side of every value before."""
    return min(after) > max(before) or max(after) < min(before)


def _check_run(run: RunObs, where: str) -> None:
    if not isinstance(run, RunObs):
        raise ValueError(f"{where}: expected a RunObs, got {type(run).__name__}")
    if not _is_seconds(run.end_to_end):
        raise ValueError(f"{where}.end_to_end: expected finite seconds >= 0, got {run.end_to_end!r}")
    seen = set()
    for ly in run.layers:
        for stat in STATS:
            value = getattr(ly, stat)
            if value is not None and not _is_seconds(value):
                raise ValueError(f"{where} layer {ly.name!r}: {stat} must be finite seconds >= 0, got {value!r}")
        if (ly.flops is None) != (ly.bytes is None):
            raise ValueError(f"{where} layer {ly.name!r}: flops and bytes are unknown together or not at all")
        if ly.flops is not None and (ly.flops < 0 or ly.bytes < 0):
            raise ValueError(f"{where} layer {ly.name!r}: flops and bytes must be >= 0")
        if ly.name in seen:
            raise ValueError(f"{where}: layer {ly.name!r} appears twice in one run")
        seen.add(ly.name)


def _is_seconds(x: Any) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x) and x >= 0


def _common_stat(runs: Sequence[RunObs]) -> str:
    """The most robust per-run statistic that every run and layer has (one
    statistic throughout, so before and after compare like with like)."""
    for stat in STATS[:-1]:
        if all(getattr(r, f"end_to_end_{stat}") is not None and all(getattr(ly, stat) is not None for ly in r.layers)
               for r in runs):
            return stat
    return "median"


def _time(ly: LayerObs, stat: str) -> float:
    return getattr(ly, stat)


def _e2e_time(run: RunObs, stat: str) -> float:
    return run.end_to_end if stat == "median" else getattr(run, f"end_to_end_{stat}")


def _gap(run: RunObs, stat: str) -> float:
    return _e2e_time(run, stat) - sum(_time(ly, stat) for ly in run.layers)


def _run_se(stat: str, lo: float | None, p25: float | None, p75: float | None, n: int | None) -> float | None:
    """Standard error of one run's `stat` from its own repeats, or None. For
    the min, from the spread of the lower quartile (p25 - min), which other
    processes' time slices leave alone; else from the IQR."""
    if stat == "min" and lo is not None and p25 is not None:
        return MIN_SE_PER_LOW_SPREAD * (p25 - lo)
    if p25 is not None and p75 is not None:
        return MEDIAN_SE * (p75 - p25) * IQR_TO_SIGMA / math.sqrt(n or 1)
    return None


def _layer_se(ly: LayerObs, stat: str) -> float | None:
    return _run_se(stat, ly.min, ly.p25, ly.p75, ly.n)


def _e2e_se(run: RunObs, stat: str) -> float | None:
    return _run_se(stat, run.end_to_end_min, run.end_to_end_p25, run.end_to_end_p75, run.end_to_end_n)


def _level(values: Sequence[float], run_se: Sequence[float | None]) -> _Level:
    """The median over runs and its standard error: from the scatter between
    the runs (MAD) when there are several, else from the run's own repeats
    (none known: 0, and MIN_REL_CHANGE alone decides)."""
    values = tuple(float(x) for x in values)
    level = median(values)
    if len(values) >= 2:
        sigma = 1.4826 * median([abs(x - level) for x in values])
        return _Level(level, MEDIAN_SE * sigma / math.sqrt(len(values)), sigma / level if level > 0 else 0.0, values)
    se = run_se[0] if run_se else None
    return _Level(level, se or 0.0, values=(level,))


def _threshold(scale: float, b: _Level, a: _Level) -> float:
    """The smallest change of a quantity (with noise b and a) that counts, for
    something of size `scale` seconds."""
    return max(MIN_ABS_SECONDS, MIN_REL_CHANGE * scale, NOISE_FACTOR * math.hypot(b.abs_noise, a.abs_noise))


def _sides(runs: Sequence[RunObs], stat: str) -> dict[str, _Side]:
    """Per layer name, the group's level over the runs that have that layer."""
    by_name: dict[str, list[LayerObs]] = {}
    for run in runs:
        for ly in run.layers:
            by_name.setdefault(ly.name, []).append(ly)
    levels = {name: _level([_time(o, stat) for o in obs], [_layer_se(o, stat) for o in obs])
              for name, obs in by_name.items()}
    levels = _pooled(levels)
    return {
        name: _Side(obs[-1].op, _median_count([o.flops for o in obs]), _median_count([o.bytes for o in obs]),
                    levels[name], len(obs), _own_roof(obs))
        for name, obs in by_name.items()
    }


def _median_count(counts: Sequence[int | None]) -> int | None:
    """The group's FLOPs or bytes of a layer; None when any run did not know them."""
    return None if any(c is None for c in counts) else int(median(counts))


def _own_roof(obs: Sequence[LayerObs]) -> _Peaks | None:
    """A layer's own roofs over a group: the median over the runs that carry both; None if none does."""
    pairs = [(o.roof_gflops, o.roof_gbs) for o in obs if o.roof_gflops and o.roof_gbs
             and o.roof_gflops > 0 and o.roof_gbs > 0]
    if not pairs:
        return None
    return _Peaks(median([p[0] for p in pairs]), median([p[1] for p in pairs]), "layer")


def _pooled(levels: dict[str, _Level]) -> dict[str, _Level]:
    """Floor each layer's run-to-run scatter with the median scatter of the
    layers of similar time (within POOL_RATIO) in the same group: the MAD of
    2-5 runs is often ~0 by chance, while a layer's time moves from run to run
    with memory placement, more so the shorter it is."""
    known = [(lv.value, lv.rel_sigma) for lv in levels.values() if lv.rel_sigma is not None and lv.value > 0]
    if not known:
        return levels
    known.sort()
    times = [t for t, _ in known]
    out = {}
    for name, lv in levels.items():
        if lv.rel_sigma is None or lv.value <= 0:
            out[name] = lv
            continue
        lo, hi = bisect_left(times, lv.value / POOL_RATIO), bisect_right(times, lv.value * POOL_RATIO)
        rel_sigma = max(lv.rel_sigma, median([r for _, r in known[lo:hi]]))
        out[name] = _Level(lv.value, MEDIAN_SE * rel_sigma * lv.value / math.sqrt(len(lv.values)), rel_sigma,
                           lv.values)
    return out


def _group_peaks(runs: Sequence[RunObs]) -> tuple[float, float] | None:
    pairs = [(r.peak_gflops, r.peak_gbs) for r in runs
             if r.peak_gflops is not None and r.peak_gbs is not None and r.peak_gflops > 0 and r.peak_gbs > 0]
    if not pairs:
        return None
    return median([p[0] for p in pairs]), median([p[1] for p in pairs])


def _peaks(before: Sequence[RunObs], after: Sequence[RunObs]) -> tuple[_Peaks, _Peaks]:
    pb, pa = _group_peaks(before), _group_peaks(after)
    if pb or pa:
        pb, pa = pb or pa, pa or pb
        return _Peaks(*pb, "runs"), _Peaks(*pa, "runs")
    emp = _empirical_peaks([*before, *after])
    return emp, emp


def _empirical_peaks(runs: Sequence[RunObs]) -> _Peaks:
    gflops = gbs = 0.0
    for run in runs:
        for ly in run.layers:
            if ly.median >= TINY_SECONDS and ly.flops is not None:
                gflops = max(gflops, ly.flops / ly.median / 1e9)
                gbs = max(gbs, ly.bytes / ly.median / 1e9)
    # Nothing measurable at all: any positive roof keeps the arithmetic defined.
    return _Peaks(gflops or 1.0, gbs or 1.0, "empirical")


def _peaks_evidence(pb: _Peaks, pa: _Peaks) -> dict:
    return {"peak_gflops_before": pb.gflops, "peak_gbs_before": pb.gbs, "peak_gflops_after": pa.gflops,
            "peak_gbs_after": pa.gbs, "ridge": pb.ridge, "peaks_source": pb.source}


def _collective_work(sides_b: Mapping[str, _Side], sides_a: Mapping[str, _Side], moved: set[str],
                     pb: _Peaks, pa: _Peaks) -> list[LayerVerdict]:
    """The layers whose FLOPs or bytes changed but whose time moved too little
    to stand out one by one (e.g. 26 small embedding tables with longer bags):
    taken together, if their summed time moved beyond the summed noise and
    their summed roof time explains it, they are all ``work``."""
    names = [n for n in sides_b if n in sides_a and n not in moved
             and sides_b[n].work_known and sides_a[n].work_known
             and (_changed(sides_b[n].flops, sides_a[n].flops) or _changed(sides_b[n].bytes, sides_a[n].bytes))]
    if len(names) < 2:
        return []
    tb = sum(sides_b[n].time.value for n in names)
    ta = sum(sides_a[n].time.value for n in names)
    noise = math.sqrt(sum(sides_b[n].time.abs_noise ** 2 + sides_a[n].time.abs_noise ** 2 for n in names))
    # one roof per layer for both sides (the before side's): the work differs, not the machine
    roof_b = sum(sides_b[n].roof_time(sides_b[n].roof(pb)) for n in names)
    roof_a = sum(sides_a[n].roof_time(sides_b[n].roof(pb)) for n in names)
    if abs(ta - tb) <= max(MIN_ABS_SECONDS, MIN_REL_CHANGE * tb, NOISE_FACTOR * noise):
        return []
    if not _work_explains(tb, ta, roof_b, roof_a):
        return []
    return [_classify_layer(n, sides_b[n], sides_a[n], pb, pa, collective=len(names)) for n in names]


def _classify_layer(name: str, b: _Side | None, a: _Side | None, pb: _Peaks, pa: _Peaks,
                    collective: int = 0) -> LayerVerdict | None:
    """The verdict on one layer, None if it did not move. `collective`: the
    layer is one of that many whose counts changed and whose time moved together."""
    if b is None or a is None:
        return _one_sided(name, b, a, pb, pa)
    tb, ta = b.time.value, a.time.value
    delta = ta - tb
    threshold = _threshold(tb, b.time, a.time)
    if abs(delta) <= threshold and not collective:
        return None
    if not (b.work_known and a.work_known):
        return _work_unknown(name, b, a, pb, pa, threshold)
    roof = b.roof(pb)  # one roof for both: the work differs, not the machine
    bound = COMPUTE if _ai(b) >= roof.ridge else BANDWIDTH
    roof_b, roof_a = b.roof_time(roof), a.roof_time(roof)
    flops_changed, bytes_changed = _changed(b.flops, a.flops), _changed(b.bytes, a.bytes)
    if collective:
        kind, reason = WORK, (f"one of {collective} layers whose FLOPs/bytes changed and whose time, "
                              "taken together, moved with them")
    elif (flops_changed or bytes_changed) and _work_explains(tb, ta, roof_b, roof_a):
        kind, reason = WORK, "FLOPs/bytes per inference changed and explain most of the time change"
    elif max(tb, ta) < TINY_SECONDS or not (b.flops or b.bytes or a.flops or a.bytes):
        kind, reason = OVERHEAD, f"under {TINY_SECONDS * 1e6:g} us (or no work): dispatch, not roofline"
    elif bound == BANDWIDTH and bytes_changed and not flops_changed and a.bytes > b.bytes:
        kind, reason = BANDWIDTH, "memory-bound layer whose bytes rose"
    elif bound == COMPUTE:
        kind, reason = COMPUTE, "compute-bound layer whose achieved FLOP/s changed"
    else:
        kind, reason = BANDWIDTH, "memory-bound layer whose achieved GB/s changed"
    pct_b = _pct(roof_b, tb)
    ev = {
        "time_before": tb,
        "time_after": ta,
        "delta_seconds": delta,
        "threshold_seconds": threshold,
        "runs_before": b.runs,
        "runs_after": a.runs,
        **_side_evidence(b, pb, "before"),
        **_side_evidence(a, pa, "after"),
        "ridge": roof.ridge,
        "roof_source": "layer" if b.own_roof else "run",
        "work_ratio": roof_a / roof_b if roof_b > 0 else None,
        "cache_resident": bool(pct_b is not None and pct_b > 100.0 and bound == BANDWIDTH),
        "reason": reason,
    }
    return LayerVerdict(name, a.op, kind, _json_float(_rel(tb, ta)), 0.0, ev)


def _one_sided(name: str, b: _Side | None, a: _Side | None, pb: _Peaks, pa: _Peaks) -> LayerVerdict | None:
    """A layer on one side only: the graph changed (new layers, more tables)."""
    side, peaks, when = (a, pa, "after") if b is None else (b, pb, "before")
    delta = side.time.value if when == "after" else -side.time.value
    if abs(delta) <= MIN_ABS_SECONDS:
        return None
    ev = {"only": when, "time_before": b.time.value if b else None, "time_after": a.time.value if a else None,
          "delta_seconds": delta, **_side_evidence(side, peaks, when), "ridge": side.roof(peaks).ridge,
          "roof_source": ("layer" if side.own_roof else "run") if side.work_known else None,
          "reason": f"the layer exists {when} the change only"}
    return LayerVerdict(name, side.op, WORK, None if when == "after" else -1.0, 0.0, ev)


def _work_unknown(name: str, b: _Side, a: _Side, pb: _Peaks, pa: _Peaks, threshold: float) -> LayerVerdict:
    """A layer that moved but whose FLOPs/bytes are unknown on a side: no roof can
    judge it, so its kind is unknown (never guessed); the times are the evidence."""
    tb, ta = b.time.value, a.time.value
    ev = {"time_before": tb, "time_after": ta, "delta_seconds": ta - tb, "threshold_seconds": threshold,
          "runs_before": b.runs, "runs_after": a.runs, **_side_evidence(b, pb, "before"),
          **_side_evidence(a, pa, "after"), "roof_source": None, "work_known": False,
          "reason": "the layer's FLOPs/bytes are unknown (the runtime's node has no formula), so no roof judges it"}
    return LayerVerdict(name, a.op, UNKNOWN, _json_float(_rel(tb, ta)), 0.0, ev)


def _work_explains(tb: float, ta: float, roof_b: float, roof_a: float) -> bool:
    """Does the change of roof time (work) explain at least WORK_SHARE of the
    change of time, in the same direction?"""
    if roof_b <= 0 or roof_a <= 0:  # work appeared or vanished
        return (roof_a > roof_b) == (ta > tb)
    if tb <= 0 or ta <= 0:
        return (roof_a > roof_b) == (ta > tb)
    log_time, log_work = math.log(ta / tb), math.log(roof_a / roof_b)
    return log_time * log_work > 0 and abs(log_work) >= WORK_SHARE * abs(log_time)


def _side_evidence(side: _Side, peaks: _Peaks, when: str) -> dict:
    t, roof = side.time.value, side.roof(peaks)
    if not side.work_known:
        return {f"{key}_{when}": None for key in ("flops", "bytes", "ai", "bound", "gflops", "gbs", "pct_of_roof")}
    return {f"flops_{when}": side.flops, f"bytes_{when}": side.bytes, f"ai_{when}": _ai(side),
            f"bound_{when}": COMPUTE if _ai(side) >= roof.ridge else BANDWIDTH,
            f"gflops_{when}": _rate(side.flops, t), f"gbs_{when}": _rate(side.bytes, t),
            f"pct_of_roof_{when}": _pct(side.roof_time(roof), t)}


def _with_share(v: LayerVerdict, target: float) -> LayerVerdict:
    share = _delta(v) / target if target else 0.0
    return LayerVerdict(v.layer, v.op, v.kind, v.rel_change, share, v.evidence)


def _delta(v: LayerVerdict) -> float:
    return v.evidence["delta_seconds"]


def _ai(side: _Side) -> float:
    if side.bytes == 0:
        return math.inf if side.flops else 0.0
    return side.flops / side.bytes


def _pct(roof_time: float, seconds: float) -> float | None:
    """% of the roofline reached: the least time the roofs allow over the time taken."""
    return 100.0 * roof_time / seconds if seconds > 0 else None


def _rel(before: float, after: float) -> float | None:
    if before > 0:
        return after / before - 1.0
    return 0.0 if after == before else None


def _changed(before: int, after: int) -> bool:
    return abs(after - before) > COUNT_TOLERANCE * max(before, after, 1)


def _rate(count: int, seconds: float) -> float | None:
    return count / seconds / 1e9 if seconds > 0 else None


def _json_float(x: float | None) -> float | None:
    """Evidence goes into JSON columns: no inf/nan."""
    return x if x is not None and math.isfinite(x) else None


def _strict_json(value):
    """`value` with every float that is not finite made None (_json_float), at any depth."""
    if isinstance(value, dict):
        return {key: _strict_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_strict_json(item) for item in value)
    return _json_float(value) if isinstance(value, float) else value


__all__ = ["KINDS", "LayerObs", "LayerVerdict", "RunObs", "Verdict", "classify_change"]
