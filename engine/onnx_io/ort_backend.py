"""The onnxruntime backend: a roofwatch.run/1 report of a model as
onnxruntime runs it, layer by layer.

    roofwatch-engine run mlp --backend onnxruntime      (a zoo model, through its ONNX export)
    roofwatch-engine run --onnx model.onnx --backend onnxruntime

Each node onnxruntime ran (its optimized graph) is a layer: its kernel times
from onnxruntime's profiler (engine/onnx_io/ort_profile.py) with the engine's
time statistics, the original nodes it stands for in `sources`
(engine/onnx_io/ort_lineage.py; for a zoo model the engine nodes they were
exported from), and FLOPs and bytes from the engine's op formulas
(engine/onnx_io/ort_work.py), or None with the reason in `work_unknown`.
Every layer is judged against the roofs of the session's intra-op thread
count: onnxruntime splits elementwise kernels over its pool as well as GEMMs.

The report keeps the schema: `config.backend` is "onnxruntime", and
`config.runtime` holds the version and session options. The benchmark's
params carry "backend": "onnxruntime", so its series never mix with the
engine's (a series is machine + benchmark params + layer), while the model
name stays the zoo's and matches the engine's runs of it.
"""
from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from engine.benchmark import INPUT_SEED, RunOptions
from engine.ir import Graph, model_version
from engine.layer_roof import beats_measured_roof, roof_at
from engine.machine import Peaks, last_level_cache_bytes, machine_info
from engine.models import build_model
from engine.onnx_io.errors import OnnxIOError
from engine.onnx_io.export_graph import export_with_origins
from engine.onnx_io.import_graph import load_checked
from engine.onnx_io.onnx_inputs import parse_input_range, synthesize_onnx_inputs
from engine.onnx_io.ort_lineage import Lineage, map_lineage, read_after
from engine.onnx_io.ort_profile import OrtTimes, time_model
from engine.onnx_io.ort_work import DEFAULT_DOMAINS, Work, group_work, model_work
from engine.onnx_spec import report_identity
from engine.passes import run_passes
from engine.profile import time_stats
from engine.report import BACKEND_ORT, Benchmark, Config, Layer, Report, Source
from engine.roofline import blas_threads, measure_peaks, measure_roofs

# Per-node profiling costs onnxruntime about 6-17 us a node: dlrm's 26 embedding tables as one
# table-batched lookup (12 ONNX nodes) instead of one lookup each (7 nodes each) keep it small.
ORT_PASSES = ("embedding_group",)


class OrtOptionError(OnnxIOError):
    """An option the onnxruntime backend does not take."""


@dataclass(frozen=True)
class OrtRun:
    report: Report
    peaks: Peaks  # the run's thread count's roofs
    times: OrtTimes


def check_options(options: RunOptions) -> None:
    """Refuse what only the engine does: its passes, quantization, fault injection, --target-ci."""
    refused = [(options.passes, "--passes (onnxruntime applies its own graph optimizations)"),
               (options.quant not in (None, "", "none") or options.calibration or options.quant_fp32,
                "--quant (quantize the ONNX model itself and run that file)"),
               (options.inject, "--inject"), (options.target_ci is not None, "--target-ci")]
    named = [what for given, what in refused if given]
    if named:
        raise OrtOptionError(f"{', '.join(named)} not supported with --backend onnxruntime")


def custom_ops(model: onnx.ModelProto) -> list[str]:
    """'node (domain::Op)' for every node outside the default ONNX domain."""
    return [f"{n.name or '(unnamed)'} ({n.domain}::{n.op_type})" for n in model.graph.node
            if n.domain not in DEFAULT_DOMAINS]


def named_nodes(model: onnx.ModelProto) -> onnx.ModelProto:
    """`model`, with a name for every unnamed node (as engine.onnx_io's importer names them), so
    that every profiled node can be traced back."""
    if all(n.name for n in model.graph.node):
        return model
    named = onnx.ModelProto()
    named.CopyFrom(model)
    for i, n in enumerate(named.graph.node):
        n.name = n.name or f"{n.op_type.lower()}_{i}"
    return named


def onnx_model_version(model: onnx.ModelProto) -> str:
    """A 20-hex-digit hash of an ONNX graph's structure (nodes, wiring,
    attributes, the inputs and each initializer's name, shape and dtype):
    weight values are left out, as engine.ir.model_version leaves them out."""
    g = model.graph
    doc = {"inputs": [onnx.helper.printable_value_info(v) for v in g.input],
           "initializers": sorted([t.name, list(t.dims), t.data_type] for t in g.initializer),
           "nodes": [[n.name, n.domain, n.op_type, list(n.input), list(n.output),
                      sorted(onnx.helper.printable_attribute(a) for a in n.attribute)] for n in g.node],
           "outputs": [o.name for o in g.output]}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:20]


def _sources(lineage: Lineage, origins: Mapping[str, Sequence[str]] | None) -> list[str]:
    """The layer's sources: original ONNX nodes, or the engine nodes they were exported from."""
    if origins is None:
        return list(lineage.sources)
    return list(dict.fromkeys(m for n in lineage.sources for m in origins.get(n, (n,))))


def _work(name: str, op: str, lineage: Lineage, works: Mapping[str, Work], original: onnx.GraphProto,
          specs: Mapping[str, Any]) -> Work:
    if len(lineage.cluster) > 1:
        return Work.not_known(f"one of the onnxruntime nodes {', '.join(lineage.cluster)} that together compute "
                              f"{', '.join(lineage.sources) or 'no node of the model'}; their work is not split "
                              "among them")
    if not lineage.sources:
        return Work.not_known(f"{op} node {name!r} was added by onnxruntime and computes no node of the model")
    nodes = {n.name: n for n in original.node}
    return group_work(list(lineage.sources), works, nodes, specs, read_after(lineage.sources, original))


def _layers(times: OrtTimes, plan: Sequence[tuple[Work, list[str]]], threads: int,
            roofs: Mapping[int, Peaks]) -> list[Layer]:
    layers = []
    for index, (node, (work, sources)) in enumerate(zip(times.nodes, plan, strict=True)):
        stats = time_stats(node.samples_ns)
        seconds = max(stats.median, 1e-9)
        known = work.unknown is None
        roof = roof_at(threads, list(work.gathered) if known else [], work.bytes or 0, roofs)
        ai = (work.flops / work.bytes if work.bytes else 0.0) if known else None
        layers.append(Layer(
            name=node.name, op=node.op_type, index=index, sources=sources, flops=work.flops, bytes=work.bytes,
            time=stats, gflops=work.flops / seconds / 1e9 if known else None,
            gbs=work.bytes / seconds / 1e9 if known else None, ai=ai, bound=roof.bound(ai) if known else None,
            threads=roof.threads, roof=roof.kind, roof_gflops=roof.gflops, roof_gbs=roof.gbs,
            work_unknown=work.unknown))
    return layers


def profile_onnx_model(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray], *, name: str,
                       params: Mapping[str, Any], version: str, options: RunOptions = RunOptions(),
                       origins: Mapping[str, Sequence[str]] | None = None, label: str = "model") -> OrtRun:
    """Run `model` in onnxruntime with `feeds` and assemble its report (see the module docstring).
    `origins` (ONNX node -> the engine nodes it computes) names the engine's nodes in sources."""
    check_options(options)
    custom = custom_ops(model)
    if custom:
        raise OrtOptionError(f"{label}: custom-domain op(s) {', '.join(custom)}: the CPU provider runs only the "
                             "default ONNX domain and onnxruntime's own ops; register the custom op library first")
    model = named_nodes(model)
    threads = options.threads or blas_threads()
    roofs = measure_roofs(threads)
    started_at = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
    times = time_model(model, feeds, threads=threads, warmup=options.warmup, repeats=options.repeats, label=label)
    works, specs = model_work(model, feeds)
    lineage = map_lineage(model.graph, times.optimized.graph)
    plan = []
    for node in times.nodes:
        lin = lineage.get(node.name, Lineage((), (node.name,)))
        plan.append((_work(node.name, node.op_type, lin, works, model.graph, specs), _sources(lin, origins)))
    layers = _layers(times, plan, threads, roofs)
    if any(beats_measured_roof(ly, last_level_cache_bytes()) for ly in layers):
        roofs = {t: measure_peaks(remeasure=True, threads=t) for t in roofs}  # measured low: again, keep the best
        layers = _layers(times, plan, threads, roofs)
    plain, profiled = time_stats(times.plain_ns), time_stats(times.profiled_ns)
    report = Report(
        idempotency_key=str(uuid.uuid4()),
        machine=machine_info(roofs[threads], roofs),
        benchmark=Benchmark(model=name, model_version=version, params={**params, "backend": BACKEND_ORT}),
        config=Config(threads=threads, flags=dict(options.flags or {}), backend=BACKEND_ORT,
                      runtime=times.runtime),
        source=options.source if options.source is not None else Source(),
        started_at=started_at, warmup=times.warmup, repeats=times.repeats,
        end_to_end=plain, layers=layers, profiler_overhead=profiled.median / plain.median - 1.0,
    )
    return OrtRun(report, roofs[threads], times)


def zoo_export(graph: Graph) -> tuple[onnx.ModelProto, dict[str, tuple[str, ...]]]:
    """The ONNX a zoo graph runs as in onnxruntime, and each ONNX node's nodes
    of `graph`: the graph after ORT_PASSES only (onnxruntime optimizes the rest
    itself), so the embedding tables export as one table-batched lookup."""
    grouped = run_passes(graph, ORT_PASSES)
    proto, origins = export_with_origins(grouped.graph)
    return proto, {onnx_node: grouped.lineage[node] for onnx_node, node in origins.items()}


def run_zoo_ort(model: str, params: Mapping[str, Any] | None = None, options: RunOptions = RunOptions()) -> OrtRun:
    """A zoo model's ONNX export (zoo_export) in onnxruntime; sources name the
    zoo graph's nodes, as the engine's layers and their sources do."""
    check_options(options)
    built = build_model(model, **dict(params or {}))
    proto, origins = zoo_export(built.graph)
    return profile_onnx_model(proto, built.make_inputs(INPUT_SEED), name=built.name, params=built.params,
                              version=model_version(built.graph), options=options, origins=origins,
                              label=f"{built.name} (its ONNX export)")


def run_onnx_file_ort(path: str | Path, *, batch: int | None = None, input_ranges: Sequence[str] = (),
                      options: RunOptions = RunOptions(), repo_path: str | None = None) -> OrtRun:
    """An ONNX file in onnxruntime, named as the engine names it (engine.onnx_spec.report_identity)."""
    check_options(options)
    ranges = dict(parse_input_range(text) for text in input_ranges)
    proto, label = load_checked(path)
    feeds = synthesize_onnx_inputs(proto, batch, INPUT_SEED, ranges, label)
    name, params = report_identity(str(path), batch=batch, ranges=ranges, repo_path=repo_path)
    return profile_onnx_model(proto, feeds, name=name, params=params,
                              version=onnx_model_version(proto), options=options, label=label)
