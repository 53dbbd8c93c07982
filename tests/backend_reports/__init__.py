"""Real run reports of the same models from both backends, as the engine wrote
them on a 2-core test machine (hostname replaced), for the platform's tests:

    mlp_engine / mlp_ort              roofwatch-engine run mlp --batch 8 --repeats 6 --warmup 2
                                      (--passes all | --backend onnxruntime)
    din_small_engine / din_small_ort  roofwatch-engine run din_small --repeats 6 --warmup 2 (same)

The onnxruntime reports carry config.backend/runtime and params.backend;
din_small_ort has layers of unknown work (work_unknown, flops/bytes null) and
onnxruntime's reshape-Gemm-reshape clusters sharing their sources; the engine's
din_small fuses the attention's activation unit into one layer of six sources.

    report("mlp_ort")                            # a fresh idempotency_key each call
    report("mlp_ort", started_at="2026-01-02T00:00:00+00:00")
"""
from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
NAMES = ("mlp_engine", "mlp_ort", "din_small_engine", "din_small_ort")


def report(name: str, **fields: Any) -> dict[str, Any]:
    """The stored report `name` as a dict, with a new idempotency key and `fields` replacing top-level keys."""
    data = json.loads((HERE / f"{name}.json").read_text())
    return {**data, "idempotency_key": str(uuid.uuid4()), **fields}
