"""Timing a model in onnxruntime: per-node times from its profiler, the
honest end-to-end time from passes without it.

Two sessions of the same model: one with `enable_profiling` (each node's
kernel time lands in its JSON trace as a "Node" event named
`<node>_kernel_time`, in microseconds), one without. They take turns in
blocks, as engine/onnx_io/process_race.py races runtimes: warmup passes of
each first, then blocks of passes, each block opening with one untimed pass
and starting only once the other session's pool threads have stopped
spinning (wait_until_idle), so neither session's threads steal the other's
cores. The profiled session's own wall times give the profiler's overhead.

The trace's "model_run" events delimit the passes, so the node events of
the untimed passes are told apart from the timed ones by their timestamps.
The optimized graph onnxruntime actually ran is saved
(`optimized_model_filepath`) for the lineage of its nodes.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from engine.onnx_io.errors import OnnxIOError
from engine.onnx_io.process_race import block_sizes, wait_until_idle

KERNEL_SUFFIX = "_kernel_time"
OPT_LEVEL = "ORT_ENABLE_ALL"
DEFAULT_BLOCKS = 5


class OrtMissing(OnnxIOError):
    """onnxruntime is not installed (or does not load)."""


class OrtLoadError(OnnxIOError):
    """onnxruntime refused the model; the message names the node where onnxruntime says."""


def import_ort() -> Any:
    """The onnxruntime module, or OrtMissing saying how to get it."""
    try:
        import onnxruntime
    except ImportError as e:
        raise OrtMissing(f"--backend onnxruntime needs the onnxruntime package, which does not load here ({e}); "
                         "install it with `pip install onnxruntime` (roofwatch depends on onnxruntime>=1.20)") from None
    return onnxruntime


@dataclass(frozen=True)
class NodeTimes:
    name: str
    op_type: str  # as onnxruntime ran it ("FusedGemm")
    samples_ns: list[int]  # one per timed pass: the node's kernel time in that pass


@dataclass(frozen=True)
class OrtTimes:
    nodes: list[NodeTimes]  # in execution order
    plain_ns: list[int]  # end-to-end wall time of each timed pass without profiling
    profiled_ns: list[int]  # ... and with it
    optimized: onnx.ModelProto  # the graph onnxruntime ran, after its optimizations
    runtime: dict[str, Any]  # version and session options, for config.runtime
    warmup: int
    repeats: int


def session_options(ort: Any, threads: int, *, profile_prefix: str | None = None,
                    optimized_path: str | None = None) -> Any:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, OPT_LEVEL)
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    if profile_prefix:
        options.enable_profiling = True
        options.profile_file_prefix = profile_prefix
    if optimized_path:
        options.optimized_model_filepath = optimized_path
    return options


def runtime_config(ort: Any, threads: int) -> dict[str, Any]:
    return {"name": "onnxruntime", "version": ort.__version__, "graph_optimization_level": OPT_LEVEL,
            "intra_op_num_threads": threads, "inter_op_num_threads": 1, "execution_mode": "sequential",
            "providers": ["CPUExecutionProvider"]}


def open_session(ort: Any, model_bytes: bytes, options: Any, label: str) -> Any:
    try:
        return ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own Fail/InvalidGraph/NotImplemented types
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise OrtLoadError(f"{label}: onnxruntime cannot load the model: {first}") from None


def _timed_pass(session: Any, feeds: Mapping[str, np.ndarray]) -> int:
    start = time.perf_counter_ns()
    session.run(None, feeds)
    return time.perf_counter_ns() - start


def _node_samples(trace: list[dict[str, Any]], timed: list[bool]) -> list[NodeTimes]:
    """Each node's kernel time per timed pass; the i-th "model_run" event is the i-th pass."""
    runs = sorted((e for e in trace if e.get("cat") == "Session" and e.get("name") == "model_run"),
                  key=lambda e: e["ts"])
    if len(runs) != len(timed):
        raise OnnxIOError(f"onnxruntime's profile has {len(runs)} passes, {len(timed)} were run")
    starts = np.array([e["ts"] for e in runs])
    keep = [i for i, t in enumerate(timed) if t]
    column = {run: col for col, run in enumerate(keep)}
    found: dict[str, tuple[str, list[int]]] = {}
    for e in sorted((e for e in trace if e.get("cat") == "Node" and e.get("name", "").endswith(KERNEL_SUFFIX)),
                    key=lambda e: e["ts"]):
        run = int(np.searchsorted(starts, e["ts"], side="right")) - 1
        if run not in column:
            continue
        name = e["name"][: -len(KERNEL_SUFFIX)]
        op, samples = found.setdefault(name, (e.get("args", {}).get("op_name", ""), [0] * len(keep)))
        samples[column[run]] += int(e["dur"]) * 1000  # a node run twice in a pass (a loop) counts both
    return [NodeTimes(name, op, samples) for name, (op, samples) in found.items()]


def time_model(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray], *, threads: int, warmup: int,
               repeats: int, blocks: int = DEFAULT_BLOCKS, label: str = "model") -> OrtTimes:
    """Per-node and end-to-end times of `model` in onnxruntime (see the module docstring)."""
    ort = import_ort()
    data = model.SerializeToString()
    with tempfile.TemporaryDirectory(prefix="roofwatch-ort-") as tmp:
        optimized_path = str(Path(tmp) / "optimized.onnx")
        profiled = open_session(ort, data, session_options(ort, threads, profile_prefix=str(Path(tmp) / "profile"),
                                                           optimized_path=optimized_path), label)
        plain = open_session(ort, data, session_options(ort, threads), label)
        timed: list[bool] = []  # per profiled pass: recorded or not
        plain_ns: list[int] = []
        profiled_ns: list[int] = []
        try:
            for session, log in ((profiled, timed), (plain, None)):
                for _ in range(warmup):
                    session.run(None, feeds)
                    if log is not None:
                        log.append(False)
            for size in block_sizes(repeats, min(blocks, repeats)):
                for session, samples in ((profiled, profiled_ns), (plain, plain_ns)):
                    if threads > 1:
                        wait_until_idle(os.getpid())  # the other session's threads may spin on
                    session.run(None, feeds)  # opens the block untimed
                    if session is profiled:
                        timed.append(False)
                    for _ in range(size):
                        samples.append(_timed_pass(session, feeds))
                        if session is profiled:
                            timed.append(True)
        except Exception as e:
            if isinstance(e, OnnxIOError):
                raise
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise OrtLoadError(f"{label}: onnxruntime failed running the model: {first}") from None
        finally:
            trace_path = profiled.end_profiling()
        with contextlib.closing(open(trace_path)) as f:
            trace = json.load(f)
        os.unlink(trace_path)
        optimized = onnx.load(optimized_path, load_external_data=False)
    return OrtTimes(nodes=_node_samples(trace, timed), plain_ns=plain_ns, profiled_ns=profiled_ns,
                    optimized=optimized, runtime=runtime_config(ort, threads), warmup=warmup, repeats=repeats)
