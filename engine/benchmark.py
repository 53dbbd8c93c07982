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
from engine.quant.accuracy import accuracy_delta, calibration_inputs
from engine.quant.modes import STATIC, QuantRequest, apply_quant, resolve_quant
from engine.report import Benchmark, Config, Report, Source
from engine.roofline import blas_threads, measure_peaks

INPUT_SEED = 0


@dataclass(frozen=True)
class BenchmarkRun:
    model: Model
    result: ProfileResult
    report: Report


@dataclass(frozen=True)
class RunOptions:
    """How to profile a model: what run_benchmark and profile_model take.

    `warmup` and `repeats`: pairs of (timed, plain) passes; the report's
    end_to_end comes from the plain passes, without per-layer timing, and
    profiler_overhead says how much the per-layer timing costs.
    With `threads`, BLAS is limited to that many threads for the peaks and the
    run; config.threads records the limit, or the thread count BLAS had.
    `source` and `flags` are copied into the report.
    `inject` ("compute:LAYER:FACTOR", "bandwidth:LAYER:FACTOR", see
    engine.inject) slows layers down for real; config.inject records it.
    `passes` ("all", "none", names; engine.passes) optimizes the graph before
    profiling: config.passes records the resolved request in pipeline order,
    config.flags["passes_noop"] the requested passes that changed nothing, and
    each layer's `sources` the original nodes it covers. Layer names (and
    so --inject targets) are those of the optimized graph; model_version stays
    the unoptimized graph's (the passes are config, not the model).
    `quant` ("none", a mode, or a dense and an embedding mode; engine.quant.modes)
    quantizes the optimized graph after the passes, keeping the layers named in
    `quant_fp32` in fp32; `calibration` is int8-static's method. config.quant
    records the canonical request, config.flags["quant_noop"] the requested
    modes that found nothing to quantize, config.flags["quant_fp32"] the layers
    kept in fp32, and the report's `accuracy` the delta against the fp32 model.
    """

    warmup: int = 3
    repeats: int = 10
    threads: int | None = None
    source: Source | None = None
    flags: Mapping[str, Any] | None = None
    inject: Sequence[str | Injection] = ()
    passes: str | Sequence[str] | None = None
    quant: str | QuantRequest | None = None
    calibration: str | None = None
    quant_fp32: Sequence[str] = ()


def run_benchmark(model: str, params: Mapping[str, Any] | None = None,
                  options: RunOptions = RunOptions()) -> BenchmarkRun:
    """Build a registered model and profile it (see RunOptions).
    Raises UnknownModelError / ModelParamError for a bad model or params,
    InjectionError for a bad injection spec or layer name, UnknownPassError
    for a bad pass name, UnknownQuantError / QuantError for a bad quant
    request, CalibrationError when calibration finds no data."""
    return profile_model(build_model(model, **dict(params or {})), options)


def profile_model(built: Model, options: RunOptions = RunOptions()) -> BenchmarkRun:
    """Profile an already built model (from the zoo or an imported file) and
    assemble its report; see run_benchmark."""
    injections = parse_injections(options.inject)
    request = resolve_quant(options.quant, options.calibration)
    keep_heap_memory()  # big intermediates reuse heap pages instead of faulting in fresh mmaps every pass
    optimized = run_passes(built.graph, options.passes)
    # Calibration seeds differ from the timing seed (INPUT_SEED) and the accuracy seeds.
    calibration_data = calibration_inputs(built.make_inputs) if request.dense == STATIC else ()
    quantized = apply_quant(optimized.graph, request, calibration_inputs=calibration_data,
                            keep_fp32=options.quant_fp32)
    flags = dict(options.flags or {})
    if optimized.requested:
        flags["passes_noop"] = optimized.noop
    if not request.is_none:
        flags["quant_noop"] = quantized.noop
        if quantized.fp32_layers:
            flags["quant_fp32"] = quantized.fp32_layers
    limit = threadpool_limits(limits=options.threads, user_api="blas") if options.threads else contextlib.nullcontext()
    with limit:
        effective_threads = blas_threads()
        peaks = measure_peaks()
        inputs = built.make_inputs(INPUT_SEED)
        started_at = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        result = profile(quantized.graph, inputs, warmup=options.warmup, repeats=options.repeats, peaks=peaks,
                         inject=injections)
    layers = [dataclasses.replace(ly, sources=list(optimized.lineage[ly.name])) for ly in result.layers]
    result = dataclasses.replace(result, layers=layers)
    accuracy = None
    if not request.is_none:
        delta = accuracy_delta(built.name, built.graph, quantized.graph, built.make_inputs)
        accuracy = delta.to_report(quantized.fp32_layers, quantized.calibration)
    report = Report(
        idempotency_key=str(uuid.uuid4()),
        machine=machine_info(peaks),
        benchmark=Benchmark(model=built.name, model_version=model_version(built.graph), params=built.params),
        config=Config(passes=optimized.requested, quant=request.text, threads=options.threads or effective_threads,
                      flags=flags, inject=[inj.spec for inj in injections]),
        source=options.source if options.source is not None else Source(),
        started_at=started_at,
        warmup=options.warmup,
        repeats=options.repeats,
        end_to_end=result.end_to_end,
        layers=result.layers,
        profiler_overhead=result.profiler_overhead,
        accuracy=accuracy,
    )
    return BenchmarkRun(built, result, report)
