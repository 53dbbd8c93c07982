"""`roofwatch-engine sweep`: the command line of engine.sweep.

    roofwatch-engine sweep dlrm --threads 1,2 --batch 32,128 --instances 1,2 --pin off --pin on
    roofwatch-engine sweep --onnx model.onnx --threads 1,2 --json sweep.json
    roofwatch-engine sweep --onnx models/net.onnx --repo-path models/net.onnx --input-range ids=0:1000 ...
    roofwatch-engine sweep dlrm ... --slo-p99-ms 10   (autotune: engine.sweep.autotune)
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from engine.argtypes import int_at_least
from engine.atomic_file import write_text_atomic
from engine.machine import cpu_model, fingerprint
from engine.models import ModelParamError, get_spec
from engine.onnx_io.process_race import load_average, load_text
from engine.onnx_spec import path_error as onnx_path_error
from engine.onnx_spec import report_identity
from engine.passes import UnknownPassError, resolve_passes
from engine.quant.modes import resolve_quant
from engine.source_info import detect_source
from engine.sweep.grid import Grid, SweepConfigError, check_pin
from engine.sweep.measure import (DEFAULT_MIN_TIME_S, DEFAULT_ROUNDS, DEFAULT_TIMEOUT_S, SweepTarget, back_to_back,
                                  measure_config, run_grid)
from engine.sweep.report import (MODE_AUTOTUNE, MODE_GRID, ROUNDS_MAX, STATUS_OK, ConfigResult, SweepReport,
                                 best_under_slo, measured_points, pareto_front)
from engine.sweep.system_knobs import not_settable, read_knobs


def _ints(text: str) -> tuple[int, ...]:
    parse = int_at_least(1)
    values = tuple(parse(part.strip()) for part in text.split(",") if part.strip())
    if not values:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}")
    return values


def _passes_value(text: str) -> str:
    try:
        names = resolve_passes(text)
    except UnknownPassError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return ",".join(names) if names else "none"


def _quant_value(text: str) -> str:
    try:
        resolve_quant(text)
    except Exception as e:  # UnknownQuantError and kin: the message names the mode
        raise argparse.ArgumentTypeError(str(e)) from None
    return text.strip() or "none"


def _pin_value(text: str) -> str:
    try:
        return check_pin(text)
    except SweepConfigError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _positive(text: str) -> float:
    if not (value := _number(text)) > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _rounds(text: str) -> int:
    if (value := int_at_least(1)(text)) > ROUNDS_MAX:
        raise argparse.ArgumentTypeError(f"must be <= {ROUNDS_MAX}, got {value}")
    return value


def _non_negative(text: str) -> float:
    if not (value := _number(text)) >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def add_commands(sub: Any) -> None:
    sweep = sub.add_parser(
        "sweep", help="measure throughput and p99 over threads, batch, instances, pinning, passes and quant",
        description="Measure a model under every configuration of a grid, each in its own processes: N "
                    "instances are N worker processes started and timed together, each with its own thread "
                    "limit and, when pinned, its own CPUs. Records p50/p99 latency of a forward pass, "
                    "throughput in samples/s and the system knobs it can read (SMT, NUMA nodes, governor, "
                    "turbo). With --slo-p99-ms an optimiser (optuna) searches the grid instead for the highest "
                    "throughput whose p99 is within the SLO.")
    sweep.add_argument("model", nargs="?", help="model name (see `models`); omit it with --onnx")
    sweep.add_argument("--onnx", metavar="FILE", help="sweep this ONNX file in the engine instead of a zoo model")
    sweep.add_argument("--input-range", action="append", default=[], metavar="NAME=LO:HI",
                       help="with --onnx: integer input NAME gets values in [LO, HI), as `run --onnx` takes it")
    sweep.add_argument("--repo-path", metavar="PATH",
                       help="with --onnx: the file's path in its repository; the report names the model 'onnx' "
                            "with params.path PATH, as `run --onnx --repo-path` does")
    sweep.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                       help="a model param other than batch (repeatable)")
    sweep.add_argument("--threads", type=_ints, metavar="N,N", help="thread counts (default 1 and every CPU allowed)")
    sweep.add_argument("--batch", dest="batches", type=_ints, metavar="N,N",
                       help="batch sizes (default the model's, or an ONNX file's fixed one)")
    sweep.add_argument("--instances", type=_ints, default=(1,), metavar="N,N",
                       help="processes running the model side by side (default 1)")
    sweep.add_argument("--pin", type=_pin_value, action="append", metavar="off|on|CPUS[/CPUS...]",
                       help="pinning, repeatable (default off): on gives each instance its own `threads` CPUs; "
                            "CPUS like 0-1/2-3 is one set per instance (one set: shared by all)")
    sweep.add_argument("--passes", dest="passes_grid", type=_passes_value, action="append",
                       metavar="all|none|NAME,NAME", help="graph passes, repeatable: one grid value each (default none)")
    sweep.add_argument("--quant", dest="quant_grid", type=_quant_value, action="append", metavar="MODE[,MODE]",
                       help="quant modes as `run --quant` takes them, repeatable: one grid value each (default none)")
    sweep.add_argument("--repeats", type=int_at_least(2), default=30,
                       help="timed passes per instance, at least (default 30)")
    sweep.add_argument("--warmup", type=int_at_least(0), default=3, help="untimed passes first (default 3)")
    sweep.add_argument("--rounds", type=_rounds, default=DEFAULT_ROUNDS, metavar="R",
                       help="measure each configuration R times and report the medians: round after round over "
                            "the whole grid, forward then back, or R times back to back per autotune evaluation "
                            f"(default {DEFAULT_ROUNDS}, at most {ROUNDS_MAX}; the table shows the rounds' "
                            "throughput range)")
    sweep.add_argument("--min-time-s", type=_non_negative, default=DEFAULT_MIN_TIME_S, metavar="SECONDS",
                       help="more timed passes than --repeats where they take less than this, at the pace of the "
                            f"warm-up passes (default {DEFAULT_MIN_TIME_S:g}; none without warm-up)")
    sweep.add_argument("--budget-s", type=_positive, metavar="SECONDS",
                       help="stop measuring once this has run out: a configuration keeps the rounds it got, one "
                            "with none is recorded as skipped")
    sweep.add_argument("--timeout-s", type=_positive, default=DEFAULT_TIMEOUT_S,
                       help=f"kill a worker silent this long (default {DEFAULT_TIMEOUT_S:g})")
    sweep.add_argument("--slo-p99-ms", type=_positive, metavar="MS",
                       help="autotune: search for the highest throughput with p99 within MS milliseconds")
    sweep.add_argument("--max-evaluations", type=int_at_least(1), metavar="N",
                       help="autotune: configurations measured at most (default 40%% of the grid)")
    sweep.add_argument("--seed", type=int, default=0, help="autotune: the optimiser's seed (default 0)")
    sweep.add_argument("--json", metavar="PATH", help="write the roofwatch.sweep/1 report here (atomically)")
    sweep.add_argument("--repository", help="source repository URL (default: from git)")
    sweep.add_argument("--commit", help="source commit (default: git HEAD)")
    sweep.add_argument("--branch", help="source branch (default: git's current branch)")
    sweep.set_defaults(batch=None)  # cli._model_params reads it; the batch sizes are a knob here


def _onnx_target(args: argparse.Namespace) -> tuple[SweepTarget, tuple[int, ...]]:
    from engine.onnx_io.errors import OnnxIOError
    from engine.onnx_io.import_graph import import_onnx, load_checked, symbolic_batch_inputs
    from engine.onnx_io.onnx_inputs import InputRangeError, parse_input_range

    path, batches = args.onnx, args.batches
    if args.repo_path is not None and (problem := onnx_path_error(args.repo_path)):
        raise ModelParamError(f"--repo-path: {problem}")
    ranges = dict(parse_input_range(text) for text in args.input_range)
    model, label = load_checked(path)
    unknown = sorted(set(ranges) - {i.name for i in model.graph.input})
    if unknown:  # here, not in every configuration's workers
        raise InputRangeError(f"--input-range names {', '.join(map(repr, unknown))}, not input(s) of {label}")
    if symbolic_batch_inputs(model):
        if not batches:
            raise OnnxIOError(f"{label}: its batch dimension is symbolic; give the batch sizes with --batch")
    else:
        fixed = import_onnx(path).inputs[0].shape[0]
        if batches and tuple(batches) != (fixed,):
            raise OnnxIOError(f"{label}: every input has a fixed batch of {fixed}; sweep it without --batch "
                              "or export the model again with a symbolic batch")
        batches = (fixed,)
    # params as `run --onnx` reports them, but batch (a knob); the workers read input_ranges from them
    name, params = report_identity(str(path), batch=None, ranges=ranges, repo_path=args.repo_path)
    return SweepTarget(name, params, str(path)), tuple(batches)


def sweep_target(args: argparse.Namespace, params: Mapping[str, Any]) -> tuple[SweepTarget, tuple[int, ...]]:
    """What to sweep and its batch sizes, checked before any process starts."""
    if args.onnx is not None:
        if args.model is not None or args.param:
            raise ModelParamError("sweep takes either a model name (with --param) or --onnx FILE, not both")
        return _onnx_target(args)
    if args.input_range or args.repo_path is not None:
        raise ModelParamError("--input-range and --repo-path go with --onnx FILE")
    if args.model is None:
        raise ModelParamError("sweep needs a model name (see `models`) or --onnx FILE")
    spec = get_spec(args.model)
    if "batch" in params:
        raise ModelParamError("give batch sizes with --batch, not --param batch=...")
    names = [p.name for p in spec.params]
    if "batch" not in names:
        raise ModelParamError(f"{args.model} has no batch param to sweep")
    return SweepTarget(args.model, dict(params)), args.batches or (spec.param("batch").default,)


def build_grid(args: argparse.Namespace, batches: Sequence[int]) -> Grid:
    cpus = len(os.sched_getaffinity(0))
    return Grid(threads=args.threads or tuple(sorted({1, cpus})), batch=tuple(batches),
                instances=tuple(args.instances), pin=tuple(args.pin or ("off",)),
                passes=tuple(args.passes_grid or ("none",)), quant=tuple(args.quant_grid or ("none",)))


class _Bar:
    """A tqdm bar on a terminal (stderr), nothing otherwise."""

    def __init__(self, total: int, desc: str, unit: str) -> None:
        self.bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, unit=unit, leave=False, dynamic_ncols=True)

    def __call__(self, result: ConfigResult) -> None:
        if self.bar is not None:
            note = (f"{result.throughput:.0f}/s p99 {result.p99_ms:.2f} ms" if result.status == STATUS_OK
                    else result.status)
            self.bar.set_postfix_str(note)
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def cmd_sweep(args: argparse.Namespace, params: Mapping[str, Any], out: TextIO) -> int:
    target, batches = sweep_target(args, params)
    try:
        grid = build_grid(args, batches)
    except SweepConfigError as e:
        raise ModelParamError(str(e)) from None
    if args.max_evaluations is not None and args.slo_p99_ms is None:
        raise ModelParamError("--max-evaluations bounds the autotune; give --slo-p99-ms too")
    source = detect_source(repository=args.repository, commit=args.commit, branch=args.branch)
    started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    knobs = read_knobs()
    load_before = load_average()

    def measure(config):
        return measure_config(target, config, repeats=args.repeats, warmup=args.warmup, min_time_s=args.min_time_s,
                              timeout_s=args.timeout_s)

    configs = grid.configs()
    if args.slo_p99_ms is None:
        bar = _Bar(len(configs) * args.rounds, f"sweep {target.model}", "measurement")
        try:
            results = run_grid(configs, measure, rounds=args.rounds, budget_s=args.budget_s, progress=bar)
        finally:
            bar.close()
    else:
        from engine.sweep.autotune import autotune

        limit = args.max_evaluations or default_evaluations(len(configs))
        bar = _Bar(limit, f"autotune {target.model}", "config")
        try:
            results = autotune(configs, back_to_back(measure, args.rounds), slo_p99_ms=args.slo_p99_ms,
                               max_evaluations=limit, seed=args.seed, budget_s=args.budget_s, progress=bar)
        finally:
            bar.close()
    report = SweepReport(
        idempotency_key=uuid.uuid4().hex, started_at=started,
        mode=MODE_GRID if args.slo_p99_ms is None else MODE_AUTOTUNE, model=target.model,
        params=dict(target.params), machine=machine_summary(), knobs=knobs, source=source, warmup=args.warmup,
        repeats=args.repeats, grid=grid.to_dict(), results=results, slo_p99_ms=args.slo_p99_ms,
        budget_s=args.budget_s, load_before=load_before, load_after=load_average(), rounds=args.rounds)
    print_sweep(report, out)
    if args.json:
        path = write_text_atomic(args.json, report.to_json() + "\n")
        print(f"sweep report written to {path}", file=out)
    return 0


def default_evaluations(grid_size: int) -> int:
    """Autotune's default: 40% of the grid, at least one."""
    return max(1, int(grid_size * 0.4))


def machine_summary() -> dict[str, Any]:
    import socket

    return {"fingerprint": fingerprint(), "hostname": socket.gethostname(), "cpu_model": cpu_model(),
            "cores": os.cpu_count() or 0}


def _ms(value: float | None) -> str:
    return f"{'-':>9}" if value is None else f"{value:9.3f}"


def _spread(r: ConfigResult) -> str:
    """The rounds' throughput range, as the min-max/s column shows it."""
    return f"{min(r.throughput_rounds):.1f}-{max(r.throughput_rounds):.1f}" if r.throughput_rounds else "-"


def print_sweep(report: SweepReport, out: TextIO) -> None:
    """The results as a table, the Pareto front starred and the best under
    the SLO (autotune) marked, then the knobs read and which are fixed here.
    Measured in rounds, the table shows the medians and each configuration's
    throughput range over its rounds."""
    rows = report.results
    indexed = measured_points(rows)
    points = [p for _, p in indexed]
    front = {indexed[i][0] for i in pareto_front(points)}
    best = None
    if report.slo_p99_ms is not None:
        found = best_under_slo(points, report.slo_p99_ms)
        best = None if found is None else indexed[found][0]
    spread = report.rounds > 1
    rounds = (f"; medians over {report.rounds} rounds "
              f"({'back to back' if report.mode == MODE_AUTOTUNE else 'interleaved over the grid'})" if spread else "")
    print(f"sweep of {report.model} ({report.mode}): {len(indexed)} of {len(rows)} configurations measured, "
          f"at least {report.repeats} timed passes per instance{rounds}; load average (1 min) "
          f"{load_text(report.load_before)} before, {load_text(report.load_after)} after", file=out)
    spread_head = f" {'min-max/s':>17}" if spread else ""
    header = (f"  {'threads':>7} {'batch':>6} {'inst':>4} {'pin':<10} {'passes':<10} {'quant':<10} "
              f"{'p50 ms':>9} {'p99 ms':>9} {'samples/s':>10}{spread_head}  status")
    print(header, file=out)
    print("-" * len(header), file=out)
    for i, r in enumerate(rows):
        mark = "B" if i == best else "*" if i in front else " "
        tp = f"{'-':>10}" if r.throughput is None else f"{r.throughput:10.1f}"
        status = r.status if not r.error else f"{r.status}: {r.error}"
        if spread and r.throughput_rounds and len(r.throughput_rounds) < report.rounds:
            status += f" ({len(r.throughput_rounds)} of {report.rounds} rounds)"
        range_ = f" {_spread(r):>17}" if spread else ""
        print(f"{mark} {r.threads:>7} {r.batch:>6} {r.instances:>4} {r.pin:<10.10} {r.passes:<10.10} "
              f"{r.quant:<10.10} {_ms(r.p50_ms)} {_ms(r.p99_ms)} {tp}{range_}  {status}", file=out)
    print("* on the throughput/p99 Pareto front" + (f"; B best under p99 {report.slo_p99_ms:g} ms"
                                                   if report.slo_p99_ms is not None else ""), file=out)
    if report.slo_p99_ms is not None and best is None:
        print(f"no configuration measured has p99 within {report.slo_p99_ms:g} ms", file=out)
    shown = ", ".join(f"{name} {knob['value'] if knob['value'] is not None else 'unknown'}"
                      for name, knob in report.knobs.items())
    print(f"system knobs: {shown}", file=out)
    fixed = not_settable(report.knobs)
    print(f"not changeable from user space here: {', '.join(fixed) or 'none'}", file=out)
