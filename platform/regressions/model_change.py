"""What a model change did to the work of its layers: the layers of the run
before and the run after, matched, and those whose FLOPs or bytes per
inference differ (pure: no Django).

Layers are matched by name, else through their lineage: a layer whose name
is new is the layer of the other run that covers one of the same original
nodes (`sources`, the ONNX nodes a fused layer covers), where exactly one
does. A layer matched by neither cannot be compared; it is listed as added
or removed, and `unmatched` says so, so no one reads it as a new layer when
it may be a renamed one.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LayerWork:
    name: str
    op: str
    sources: tuple[str, ...]
    flops: int | None  # None: unknown work (an onnxruntime node without a formula)
    bytes: int | None


def work_changes(before: Sequence[LayerWork], after: Sequence[LayerWork]) -> dict[str, Any]:
    """{"changed": [{"layer", "was", "op", "flops": [b, a], "bytes": [b, a], "matched_by"}],
    "added": [names], "removed": [names], "unmatched": bool}; `was` only where
    the name differs (matched by lineage)."""
    old = {ly.name: ly for ly in before}
    pairs, added = [], []
    for ly in after:
        if ly.name in old:
            pairs.append((old[ly.name], ly, "name"))
        else:
            added.append(ly)
    new_names = {ly.name for ly in after}
    removed = [ly for ly in before if ly.name not in new_names]
    for ly in list(added):
        twins = [b for b in removed if set(b.sources) & set(ly.sources)]
        if len(twins) == 1 and sum(1 for a in added if set(a.sources) & set(twins[0].sources)) == 1:
            pairs.append((twins[0], ly, "lineage"))
            added.remove(ly)
            removed.remove(twins[0])
    changed = []
    for b, a, how in pairs:
        if (b.flops, b.bytes) != (a.flops, a.bytes):
            entry = {"layer": a.name, "op": a.op, "flops": [b.flops, a.flops], "bytes": [b.bytes, a.bytes],
                     "matched_by": how}
            if how != "name":
                entry["was"] = b.name
            changed.append(entry)
    order = {ly.name: i for i, ly in enumerate(after)}
    changed.sort(key=lambda e: order[e["layer"]])
    return {"changed": changed, "added": [ly.name for ly in added], "removed": [ly.name for ly in removed],
            "unmatched": bool(added or removed)}


def describe(change: dict[str, Any]) -> str:
    """One line: "model changed: version A -> version B at commit C", then
    the layers whose work changed (and what could not be matched)."""
    line = f"model changed: version {change['before']} -> version {change['after']}"
    if change.get("commit"):
        line += f" at commit {change['commit'][:12]}"
    names = [e["layer"] + (f" (was {e['was']})" if "was" in e else "") for e in change.get("changed", [])]
    if names:
        line += "; work changed in " + ", ".join(names)
    if change.get("unmatched"):
        parts = [f"{label} {', '.join(change[key])}" for key, label in (("added", "new"), ("removed", "gone"))
                 if change.get(key)]
        line += "; matched by neither name nor lineage: " + "; ".join(parts)
    return line
