"""Attribution: what differs between the last run before a change and the first
run after it, and the key that groups the alerts one cause produced.

The causes a run can tell apart: the source commit range (last good, first
bad), the model version (the graph or its weights' shapes changed: with the
commit it changed at and the layers whose work changed, regressions.model_change)
and the config (passes, quantization, threads, feature flags), diffed key by key.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from regressions.model_change import LayerWork, work_changes
from results.canonical import canonical_sha256
from results.models import Run, prefetch_layers


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}; lists and scalars are leaves."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{path}."))
        else:
            flat[path] = value
    return flat


def config_diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The dotted config keys whose value differs, as {key: {"before": v, "after": v}} (None: absent)."""
    old, new = flatten(before), flatten(after)
    return {
        key: {"before": old.get(key), "after": new.get(key)}
        for key in sorted(old.keys() | new.keys())
        if old.get(key) != new.get(key)
    }


def attribute(run_before: Run, run_after: Run) -> dict[str, Any]:
    """What changed from `run_before` (last good) to `run_after` (first bad).
    Keys are present only for what did change."""
    result: dict[str, Any] = {"run_before": run_before.pk, "run_after": run_after.pk}
    if run_before.commit != run_after.commit:
        result["commits"] = {
            "repository": run_after.benchmark.project.repository_url,
            "last_good": run_before.commit,
            "first_bad": run_after.commit,
            "branch": run_after.branch,
        }
    if run_before.model_version != run_after.model_version:
        result["model_version"] = {"before": run_before.model_version, "after": run_after.model_version,
                                   "commit": run_after.commit, **work_changes(*_layer_work(run_before, run_after))}
    diff = config_diff(run_before.config, run_after.config)
    if diff:
        result["config"] = diff
    return result


def _layer_work(*runs: Run) -> list[list[LayerWork]]:
    prefetch_layers(*runs)
    return [[LayerWork(ly.name, ly.op, tuple(ly.sources), ly.flops, ly.bytes) for ly in run.layers.all()]
            for run in runs]


def summary_key(project_id: int, attribution: Mapping[str, Any]) -> str:
    """The grouping key of a change's alerts: one cause, one summary.

    A commit range or a config change is the same cause on every benchmark and
    machine it shows up on, so those key the summary; model versions are per
    model, so they would split one cause by benchmark and are left out. A
    change with neither (a machine got slower on its own) is grouped by its
    run pair, which still gathers all the layers of that run.
    """
    cause = {key: attribution[key] for key in ("commits", "config") if key in attribution}
    if cause:
        key: dict[str, Any] = {"project": project_id, **cause}
        if "commits" in key:
            key["commits"] = {k: key["commits"][k] for k in ("last_good", "first_bad")}
    else:
        key = {"runs": [attribution["run_before"], attribution["run_after"]]}
    return canonical_sha256(key)
