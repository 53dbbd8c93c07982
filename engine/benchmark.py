"""One benchmark run end to end: build the model, profile it under a BLAS
thread limit, and assemble the "roofwatch.run/1" report."""
from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from threadpoolctl import threadpool_limits

from engine.inject import Injection, parse_injections
from engine.ir import model_version
from engine.machine import machine_info
from engine.malloc_tuning import keep_heap_memory
from engine.models import Model, build_model
from engine.passes import run_passes
from engine.profile import ProfileResult, profile
from engine.report import Benchmark, Config, Report, Source
from engine.roofline import blas_threads, measure_peaks

INPUT_SEED = 0


@dataclass(frozen=True)
class BenchmarkRun:
    model: Model
    result: ProfileResult
    report: Report


def run_benchmark(
    model: str,
    params: Mapping[str, Any] | None = None,
    *,
    warmup: int = 3,
    repeats: int = 10,
    threads: int | None = None,
    source: Source | None = None,
    flags: Mapping[str, Any] | None = None,
    inject: Sequence[str | Injection] = (),
    passes: str | Sequence[str] | None = None,
) -> BenchmarkRun:
    """Raises UnknownModelError / ModelParamError for a bad model or params,
    InjectionError for a bad injection spec or layer name, UnknownPassError
    for a bad pass name.
    With `threads`, BLAS is limited to that many threads for the peaks and the
    run; config.threads records the limit, or the thread count BLAS had.
    `inject` ("compute:LAYER:FACTOR", "bandwidth:LAYER:FACTOR", see
    engine.inject) slows layers down for real; config.inject records it.
    The report's end_to_end comes from passes without per-layer timing and
    profiler_overhead says how much the per-layer timing costs.
    `passes` ("all", "none", names; engine.passes) optimizes the graph before
    profiling: config.passes records the resolved request in pipeline order,
    config.flags["passes_noop"] the requested passes that changed nothing, and
    each layer's `sources` the original nodes it covers. Layer names (and
    so --inject targets) are those of the optimized graph; model_version stays
    the unoptimized graph's (the passes are config, not the model)."""
    return profile_model(
        build_model(model, **dict(params or {})),
        warmup=warmup, repeats=repeats, threads=threads, source=source, flags=flags, inject=inject,
        passes=passes,
    )


def profile_model(
    built: Model,
    *,
    warmup: int = 3,
    repeats: int = 10,
    threads: int | None = None,
    source: Source | None = None,
    flags: Mapping[str, Any] | None = None,
    inject: Sequence[str | Injection] = (),
    passes: str | Sequence[str] | None = None,
) -> BenchmarkRun:
    """Profile an already built model (from the zoo or an imported file) and
    assemble its report; see run_benchmark."""
    injections = parse_injections(inject)
    keep_heap_memory()  # big intermediates reuse heap pages instead of faulting in fresh mmaps every pass
    optimized = run_passes(built.graph, passes)
    flags = dict(flags or {})
    if optimized.requested:
        flags["passes_noop"] = optimized.noop
    limit = threadpool_limits(limits=threads, user_api="blas") if threads else contextlib.nullcontext()
    with limit:
        effective_threads = blas_threads()
        peaks = measure_peaks()
        inputs = built.make_inputs(INPUT_SEED)
        started_at = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        result = profile(optimized.graph, inputs, warmup=warmup, repeats=repeats, peaks=peaks, inject=injections)
    layers = [dataclasses.replace(ly, sources=list(optimized.lineage[ly.name])) for ly in result.layers]
    result = dataclasses.replace(result, layers=layers)
    report = Report(
        idempotency_key=str(uuid.uuid4()),
        machine=machine_info(peaks),
        benchmark=Benchmark(model=built.name, model_version=model_version(built.graph), params=built.params),
        config=Config(passes=optimized.requested, quant="none", threads=threads or effective_threads, flags=flags,
                      inject=[inj.spec for inj in injections]),
        source=source if source is not None else Source(),
        started_at=started_at,
        warmup=warmup,
        repeats=repeats,
        end_to_end=result.end_to_end,
        layers=result.layers,
        profiler_overhead=result.profiler_overhead,
    )
    return BenchmarkRun(built, result, report)
