"""Detection over stored runs: find the changes in every series of one benchmark
on one machine, classify and attribute them, and write them as alerts.

Idempotent: an alert is keyed by its series and the run that opened the new
regime, and a change found again within SNAP points of a stored alert updates
that alert; running it twice, late, or after a retry writes the same rows.

Drift (regressions.drift): a ramp, or small steps adding up, whose total
reaches the series' minimum relative change is one alert of kind "drift":
run_before is the last run before the ramp, run_after the run where it reached
the threshold, ramp_start/ramp_end its first and last run; a later fit whose
ramp overlaps a stored drift alert updates it. A step change the ramp
explains files no step alert of its own.

Each series is judged under its detection policy (regressions.policy): its
window, minimum relative change and bad direction; a muted series is still
read but files no alert. Every alert records the policy that applied.

New alerts are announced twice: `alerts_written` inside the transaction (so a
subscriber's rows, notify's pending deliveries, commit with the alerts) and
`alerts_filed` after it commits (so a subscriber can queue work that reads them).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from django.db import transaction
from django.utils import timezone

from engine.report import END_TO_END
from regressions.attribution import attribute, summary_key
from regressions.changepoints import Change, detect_changes
from regressions.classify import Verdict, classify_change
from regressions.drift import Drift, detect_drifts
from regressions.models import DRIFT, IMPROVED, IMPROVEMENT, STEP, UNTRIAGED, Alert, AlertSummary
from regressions.policy import MIN_END_TO_END_CHANGE, MIN_LAYER_CHANGE, EffectivePolicy, Policies
from regressions.signals import send_alerts_filed, send_alerts_written
from regressions.window import SeriesVector, Window, load_window, run_observations
from results.models import Benchmark, Run

log = logging.getLogger(__name__)

SNAP = 2  # points: changes of one cause found this close together in different series are one change
CLASSIFY_RUNS = 5  # runs on each side of a change that classification compares
# A layer alert needs the layer's time to move by at least this share of the
# end-to-end time: a 30% jump of a 2-microsecond layer is noise, not a finding.
MIN_LAYER_SHARE = 0.01
# The default smallest relative change worth an alert (a policy may set its own):
# MIN_END_TO_END_CHANGE and MIN_LAYER_CHANGE, defined in regressions.policy.
__all__ = ["MIN_END_TO_END_CHANGE", "MIN_LAYER_CHANGE", "detect_benchmark", "detect_groups"]
# Alerts this close to the start of the window are not marked vanished: the
# window has too few points before them to say.
MIN_POINTS_BEFORE = 5


@dataclass
class Found:
    """A change of one series, placed at a window run position."""

    series: SeriesVector
    change: Change
    position: int  # window position of the first run of the new regime
    policy: EffectivePolicy


@dataclass
class FoundDrift:
    """A drift of one series, placed at window run positions."""

    series: SeriesVector
    drift: Drift
    start: int  # window position of the ramp's first run
    end: int  # of its last run
    reached: int  # of the run where it reached the threshold (the alert's run_after)
    policy: EffectivePolicy


def detect_benchmark(machine_id: int, benchmark_id: int) -> list[Alert]:
    """Run detection over the latest runs of one benchmark on one machine and
    write its alerts; returns the alerts written or updated."""
    policies = Policies.load(benchmark_id)
    return _detect(load_window(machine_id, benchmark_id, policies.widest_window(machine_id)), policies)


def detect_history(machine_id: int, benchmark_id: int) -> int:
    """Detection over the whole history of one benchmark on one machine (a bulk
    import's sweep), as if it had run as the runs arrived, in fewer steps: the
    history is read once and judged in windows ending every half window (so
    every change sits well inside one), oldest first, the last one ending at
    the newest run. A window with nothing found, in a group with no alert
    stored, writes nothing and is not written. Returns how many alerts were
    written or updated."""
    policies = Policies.load(benchmark_id)
    size = policies.widest_window(machine_id)
    history = load_window(machine_id, benchmark_id, None)
    count = len(history.runs)
    ends = list(range(size, count, max(size // 2, 1))) + [count]
    stored = Alert.objects.filter(machine_id=machine_id, benchmark_id=benchmark_id, vanished_at=None).exists()
    alerts = set()
    for end in ends:
        written = _detect(history.part(max(end - size, 0), end), policies, skip_quiet=not stored)
        stored = stored or bool(written)
        alerts.update(alert.pk for alert in written)
    return len(alerts)


def _detect(window: Window, policies: Policies, skip_quiet: bool = False) -> list[Alert]:
    """Find the window's changes and write them; with skip_quiet, a window where
    nothing is found writes nothing (right when the group has no alert stored:
    there is nothing to update or mark vanished)."""
    if len(window.runs) < 2:
        return []
    steps, drifts = _find(window, policies)
    found = _snap(steps)
    if skip_quiet and not found and not drifts:
        return []
    with transaction.atomic():
        # Serialise detection of one benchmark (two runs ingested at once queue two tasks).
        locked = Benchmark.objects.select_for_update(no_key=True).filter(pk=window.benchmark_id)
        list(locked.values_list("pk", flat=True))
        written = _write(window, found)
        drift_alerts = [_write_drift(window, d) for d in drifts]
        for summary in {alert.summary for alert in drift_alerts}:
            _refresh_summary(summary)
        written += drift_alerts
        _mark_vanished(window, written, policies)
        new = [alert.pk for alert in written if alert.is_new]
        if new:
            send_alerts_written(new)  # subscribers' rows (notify's outbox) commit with the alerts
            transaction.on_commit(lambda: send_alerts_filed(new))
    return written


def detect_groups(groups: list[tuple[int, int]], progress=None) -> int:
    """Detection over the whole history of many (machine id, benchmark id) groups,
    one after the other (a bulk import's sweep); `progress(done)` is called after
    each. Returns how many alerts were written or updated."""
    alerts = 0
    for done, (machine_id, benchmark_id) in enumerate(groups, 1):
        alerts += detect_history(machine_id, benchmark_id)
        if progress is not None:
            progress(done)
    return alerts


def _find(window: Window, policies: Policies) -> tuple[list[Found], list[FoundDrift]]:
    """Every change and drift in every series of the window that is big enough
    to matter under the series' policy (a muted series' changes are only logged)."""
    end_to_end = float(np.median(window.series[END_TO_END].values))
    found, drifts = [], []
    for series in window.series.values():
        policy = policies.effective(window.machine_id, series.layer)
        series = _last_runs(series, len(window.runs) - policy.window)
        try:
            is_layer = series.layer != END_TO_END
            changes = detect_changes(series.values, spread=series.spread, min_rel_change=policy.min_rel_change)
            ramps = detect_drifts(series.values, spread=series.spread, min_rel_change=policy.min_rel_change,
                                  changes=changes)
        except Exception:  # a bad series must not stop the others; detect_changes is meant never to raise
            log.exception("detection failed on %s of benchmark %s", series.layer, window.benchmark_id)
            continue
        if policy.muted:
            if changes or ramps:
                log.info("muted series %s of benchmark %s on machine %s: %d change(s), %d drift(s), no alert",
                         series.layer, window.benchmark_id, window.machine_id, len(changes), len(ramps))
            continue
        explained = set()
        for d in ramps:
            if is_layer and abs(d.after - d.before) < MIN_LAYER_SHARE * end_to_end:
                continue
            explained.update(d.steps)
            at = series.positions
            drifts.append(FoundDrift(series, d, int(at[d.start]), int(at[d.end]), int(at[d.reached]), policy))
        for change in changes:
            if change.index in explained:
                continue
            if is_layer and abs(change.after - change.before) < MIN_LAYER_SHARE * end_to_end:
                continue
            found.append(Found(series, change, int(series.positions[change.index]), policy))
    return found, drifts


def _last_runs(series: SeriesVector, first: int) -> SeriesVector:
    """The series' points at window positions from `first` on (its policy's window)."""
    if first <= 0:
        return series
    keep = series.positions >= first
    return SeriesVector(series.layer, series.positions[keep], series.values[keep], series.spread[keep])


def _snap(found: list[Found]) -> list[Found]:
    """Move changes within SNAP points of each other to one position (the one
    most series agree on, end-to-end first among equals), so one cause gives
    one run pair and so one summary."""
    positions = sorted({f.position for f in found})
    votes = {p: sum(f.position == p for f in found) for p in positions}
    e2e = {f.position for f in found if f.series.layer == END_TO_END}
    clusters: list[list[int]] = []
    for p in positions:
        if clusters and p - clusters[-1][-1] <= SNAP:
            clusters[-1].append(p)
        else:
            clusters.append([p])
    anchor = {p: max(c, key=lambda q: (votes[q], q in e2e)) for c in clusters for p in c}
    for f in found:
        f.position = anchor[f.position]
    return found


def _write(window: Window, found: list[Found]) -> list[Alert]:
    positions = sorted({f.position for f in found})
    written = []
    for i, position in enumerate(positions):
        if position == 0:  # no run before it: nothing to compare with
            continue
        lo = max(positions[i - 1] if i else 0, position - CLASSIFY_RUNS)
        hi = min(positions[i + 1] if i + 1 < len(positions) else len(window.runs), position + CLASSIFY_RUNS)
        observations = run_observations(window.runs[lo:hi])
        verdict = classify_change(observations[: position - lo], observations[position - lo:])
        run_before = Run.objects.select_related("benchmark__project").get(pk=window.runs[position - 1]["id"])
        run_after = Run.objects.select_related("benchmark__project").get(pk=window.runs[position]["id"])
        for f in (f for f in found if f.position == position):
            alert = _upsert_alert(window, f, run_before, run_after, verdict)
            written.append(alert)
    for summary in {alert.summary for alert in written}:
        _refresh_summary(summary)
    return written


def _verdict_of(verdict: Verdict, layer: str) -> tuple[str, dict]:
    """The classification and evidence of one series: its layer's, else the run's."""
    layer_verdict = next((v for v in verdict.layers if v.layer == layer), None)
    if layer == END_TO_END or layer_verdict is None:
        return verdict.kind, verdict.evidence
    return layer_verdict.kind, layer_verdict.evidence


def _save(window: Window, layer: str, existing: Alert | None, values: dict, run_before: Run, run_after: Run,
          attribution: dict, **fields) -> Alert:
    """Update `existing` with `values`, or file a new alert in the summary of `attribution`."""
    if existing is not None:
        for name, value in values.items():
            setattr(existing, name, value)
        existing.save()
        existing.is_new = False
        return existing
    project = run_after.benchmark.project
    summary, _ = AlertSummary.objects.get_or_create(
        key=summary_key(project.pk, attribution),
        defaults={"project": project, "attribution": attribution, "classification": values["classification"]},
    )
    alert = Alert.objects.create(
        summary=summary, original_summary=summary, machine_id=window.machine_id, benchmark_id=window.benchmark_id,
        layer=layer, run_before=run_before, run_after=run_after, **values, **fields,
    )
    alert.is_new = True  # for alerts_filed, sent after commit
    return alert


def _upsert_alert(window: Window, f: Found, run_before: Run, run_after: Run, verdict: Verdict) -> Alert:
    kind, evidence = _verdict_of(verdict, f.series.layer)
    values = {
        "before": f.change.before,
        "after": f.change.after,
        "rel_change": f.change.rel_change,
        "confidence": f.change.confidence,
        "direction": f.policy.direction(f.change.rel_change),
        "classification": kind,
        "evidence": evidence,
        "policy": f.policy.as_json(),
        "vanished_at": None,
    }
    existing = _stored_alert_near(window, f)
    attribution = attribute(run_before, run_after) if existing is None else {}
    return _save(window, f.series.layer, existing, values, run_before, run_after, attribution)


def _stored_alert_near(window: Window, f: Found) -> Alert | None:
    """The stored alert of this series whose change is within SNAP points of `f`."""
    lo, hi = max(0, f.position - SNAP), min(len(window.runs), f.position + SNAP + 1)
    near = [run["id"] for run in window.runs[lo:hi]]
    return (
        Alert.objects.filter(
            machine_id=window.machine_id, benchmark_id=window.benchmark_id, layer=f.series.layer, metric="median",
            kind=STEP, run_after_id__in=near,
        ).select_related("summary").first()
    )


def _write_drift(window: Window, f: FoundDrift) -> Alert:
    """File or update the drift alert of one ramp."""
    if f.start == 0:  # the ramp starts the window: no run before it to compare with
        f.start = 1
    runs = window.runs
    before_obs = run_observations(runs[max(0, f.start - CLASSIFY_RUNS):f.start])
    after_obs = run_observations(runs[max(f.start, f.end + 1 - CLASSIFY_RUNS):f.end + 1])
    verdict = classify_change(before_obs, after_obs)
    classification, evidence = _verdict_of(verdict, f.series.layer)
    d = f.drift
    values = {
        "before": d.before, "after": d.after, "rel_change": d.rel_change, "confidence": d.confidence,
        "direction": f.policy.direction(d.rel_change), "classification": classification, "evidence": evidence,
        "policy": f.policy.as_json(), "vanished_at": None,
        "ramp_start_id": runs[f.start]["id"], "ramp_end_id": runs[f.end]["id"],
    }
    existing = _stored_drift_overlapping(window, f)
    run_before = Run.objects.select_related("benchmark__project").get(pk=runs[f.start - 1]["id"])
    run_after = Run.objects.select_related("benchmark__project").get(pk=runs[f.reached]["id"])
    # The cause is somewhere in the ramp: its commit range runs from the last run before it to its last run.
    attribution = {} if existing is not None else attribute(run_before, Run.objects.get(pk=runs[f.end]["id"]))
    return _save(window, f.series.layer, existing, values, run_before, run_after, attribution, kind=DRIFT)


def _stored_drift_overlapping(window: Window, f: FoundDrift) -> Alert | None:
    """The stored drift alert of this series whose ramp overlaps `f`'s (runs before the window count as its start)."""
    position = {run["id"]: i for i, run in enumerate(window.runs)}
    stored = Alert.objects.filter(
        machine_id=window.machine_id, benchmark_id=window.benchmark_id, layer=f.series.layer, metric="median",
        kind=DRIFT, ramp_end_id__in=window.run_ids,
    ).select_related("summary").order_by("-ramp_end__started_at", "-id")
    for alert in stored:
        start, end = position.get(alert.ramp_start_id, 0), position[alert.ramp_end_id]
        if start <= f.end + SNAP and end >= f.start - SNAP:
            return alert
    return None


def _mark_vanished(window: Window, written: list[Alert], policies: Policies) -> None:
    """Alerts inside their series' window whose change detection no longer finds
    are marked, not deleted (a muted series' alerts are left as they are)."""
    position = {run["id"]: i for i, run in enumerate(window.runs)}
    candidates = Alert.objects.filter(
        machine_id=window.machine_id, benchmark_id=window.benchmark_id, vanished_at=None,
        run_after_id__in=window.run_ids[MIN_POINTS_BEFORE:],
    ).exclude(pk__in=[alert.pk for alert in written]).values_list("pk", "layer", "run_after_id")
    stale_ids = []
    for pk, layer, run_after_id in candidates:
        policy = policies.effective(window.machine_id, layer)
        if not policy.muted and position[run_after_id] >= len(window.runs) - policy.window + MIN_POINTS_BEFORE:
            stale_ids.append(pk)
    stale = Alert.objects.filter(pk__in=stale_ids)
    summaries = set(AlertSummary.objects.filter(alerts__in=stale))
    stale.update(vanished_at=timezone.now())
    for summary in summaries:
        _refresh_summary(summary)


def _refresh_summary(summary: AlertSummary) -> None:
    """Derived fields of a summary: its classification (that of its largest
    end-to-end alert, else its largest alert) and, until a person triaged it,
    whether it holds only improvements (that no policy asks people to triage)."""
    alerts = list(summary.alerts.filter(vanished_at=None))
    if not alerts:
        return
    lead = max(alerts, key=lambda a: (a.layer == END_TO_END, abs(a.rel_change)))
    summary.classification = lead.classification
    if summary.triaged_by_id is None:
        quiet = all(a.direction == IMPROVED and not a.policy.get("alert_improvements", {}).get("value") for a in alerts)
        summary.status = IMPROVEMENT if quiet else UNTRIAGED
    summary.save(update_fields=["classification", "status", "updated"])
