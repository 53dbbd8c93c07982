"""The classifier's observations (classify.RunObs) read from a roofwatch.run/1
report: measurements only (machine peaks, end_to_end and layers, with each
layer's own roofs where the report carries them), never the run's config, where
fault injection is recorded. Standard library only, like classify.py."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from regressions.classify import LayerObs, RunObs


def run_obs_from_report(report: Mapping) -> RunObs:
    """A RunObs from a roofwatch.run/1 report dict. Reads machine peaks,
    end_to_end and layers only (never config). Raises ValueError naming the
    field that is missing or malformed."""
    if not isinstance(report, Mapping):
        raise ValueError(f"report: expected a mapping, got {type(report).__name__}")
    e2e = _field(report, "end_to_end", Mapping, "report")
    machine = report.get("machine") or {}
    if not isinstance(machine, Mapping):
        raise ValueError(f"report.machine: expected a mapping, got {type(machine).__name__}")
    layers_raw = report.get("layers") or []
    if not isinstance(layers_raw, Sequence) or isinstance(layers_raw, (str, bytes)):
        raise ValueError(f"report.layers: expected a list, got {type(layers_raw).__name__}")
    layers = []
    for i, ly in enumerate(layers_raw):
        where = f"report.layers[{i}]"
        if not isinstance(ly, Mapping):
            raise ValueError(f"{where}: expected a mapping, got {type(ly).__name__}")
        stats = _field(ly, "time", Mapping, where)
        layers.append(LayerObs(
            name=_field(ly, "name", str, where),
            op=_field(ly, "op", str, where),
            flops=_work_count(ly, "flops", where),
            bytes=_work_count(ly, "bytes", where),
            median=_seconds(stats, "median", f"{where}.time"),
            **_optional_stats(stats, f"{where}.time"),
            roof_gflops=_optional_roof(ly, "roof_gflops", where),
            roof_gbs=_optional_roof(ly, "roof_gbs", where),
        ))
    extra = _optional_stats(e2e, "report.end_to_end")
    return RunObs(
        layers=tuple(layers),
        end_to_end=_seconds(e2e, "median", "report.end_to_end"),
        peak_gflops=_optional_roof(machine, "peak_gflops", "report.machine"),
        peak_gbs=_optional_roof(machine, "peak_gbs", "report.machine"),
        **{f"end_to_end_{k}": v for k, v in extra.items()},
    )


def _field(d: Mapping, key: str, kind: type | tuple, where: str) -> Any:
    if key not in d:
        raise ValueError(f"{where}.{key}: missing")
    value = d[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise ValueError(f"{where}.{key}: expected {names}, got {type(value).__name__}")
    return value


def _count(d: Mapping, key: str, where: str) -> int:
    value = _field(d, key, (int, float), where)
    if not math.isfinite(value) or value < 0 or value != int(value):
        raise ValueError(f"{where}.{key}: expected a non-negative integer, got {value!r}")
    return int(value)


def _work_count(d: Mapping, key: str, where: str) -> int | None:
    """A layer's FLOPs or bytes; None where they are null because `work_unknown` says why."""
    if d.get(key, 0) is None and d.get("work_unknown"):
        return None
    return _count(d, key, where)


def _seconds(d: Mapping, key: str, where: str) -> float:
    value = _field(d, key, (int, float), where)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{where}.{key}: expected a finite non-negative number of seconds, got {value!r}")
    return float(value)


def _optional_stats(stats: Mapping, where: str) -> dict[str, Any]:
    out: dict[str, Any] = {k: _seconds(stats, k, where) for k in ("p25", "p75", "min") if stats.get(k) is not None}
    if stats.get("n") is not None:
        out["n"] = _count(stats, "n", where)
    return out


def _optional_roof(d: Mapping, key: str, where: str) -> float | None:
    """A measured roof (a machine's peak, a layer's own roof): None when absent or not > 0."""
    value = d.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{where}.{key}: expected a number, got {value!r}")
    return float(value) if value > 0 else None
