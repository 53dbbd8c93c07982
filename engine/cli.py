"""roofwatch-engine: list models, profile one, measure this machine's roofline.

    roofwatch-engine models
    roofwatch-engine run mlp --batch 128 --json run.json
    roofwatch-engine run mlp --inject compute:fc2:2.0   (fault injection, see engine.inject)
    roofwatch-engine run dlrm --passes all   (graph passes: all, none or names, see engine.passes)
    roofwatch-engine peaks [--remeasure]
    roofwatch-engine export-onnx mlp mlp.onnx --batch 256
    roofwatch-engine run --onnx mlp.onnx [--input-range ids=0:1000]
    roofwatch-engine compare-ort mlp --batch 256 --threads 2 --repeats 20
    roofwatch-engine run dlrm --passes all --quant int8,int8-rowwise-emb   (see engine.quant.commands)
    roofwatch-engine quant-sweep dlrm --quant int8 --max-abs-error 0.01
    roofwatch-engine run dlrm --batch 256 --threads 1 --target-ci 1 --budget-s 60   (repeat until precise)
    roofwatch-engine run mlp --backend onnxruntime   (onnxruntime's per-node profile, engine.onnx_io.ort_backend)
    roofwatch-engine run --onnx model.onnx --backend onnxruntime
    roofwatch-engine sweep dlrm --threads 1,2 --batch 32,128 --instances 1,2 --pin off --pin on [--slo-p99-ms 10]
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from engine.argtypes import int_at_least
from engine.atomic_file import write_text_atomic
from engine.benchmark import BenchmarkRun, RunOptions, run_benchmark
from engine.fusion_search import commands as fusion_commands
from engine.inject import Injection, InjectionError, parse_injection
from engine.models import MODELS, ModelParamError, UnknownModelError, get_spec
from engine.onnx_io import OnnxIOError
from engine.onnx_io import commands as onnx_commands
from engine.passes import UnknownPassError, resolve_passes, valid_passes_text
from engine.profile import DEFAULT_BUDGET_S, check_target, ci_half_width_pct
from engine.quant import commands as quant_commands
from engine.layer_roof import fraction_of_roof
from engine.onnx_io.ort_backend import run_onnx_file_ort, run_zoo_ort
from engine.onnx_spec import path_error as onnx_path_error
from engine.report import BACKEND_ENGINE, BACKEND_ORT, BACKENDS, Report
from engine.roofline import Peaks, measure_roofs
from engine.source_info import detect_source
from engine.sweep import commands as sweep_commands

PROG = "roofwatch-engine"


def _injection(text: str) -> Injection:
    try:
        return parse_injection(text)
    except InjectionError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _flag(text: str) -> tuple[str, Any]:
    """NAME=JSON: a feature flag recorded in config.flags (attribution diffs them)."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=JSON, got {text!r}")
    try:
        return name.strip(), json.loads(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"flag {name.strip()}: {value!r} is not JSON (quote strings)") from None


def _number(text: str, check) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    try:
        check(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return value


def _target_ci(text: str) -> float:
    return _number(text, lambda v: check_target(v, None))


def _budget_s(text: str) -> float:
    return _number(text, lambda v: check_target(None, v))


def _passes(text: str) -> list[str]:
    try:
        return resolve_passes(text)
    except UnknownPassError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="roofwatch's inference engine and profiler")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("models", help="list the benchmark models and their params")

    run = sub.add_parser("run", help="profile a model layer by layer")
    run.add_argument("model", nargs="?", help="model name (see `models`); omit it with --onnx")
    run.add_argument("--batch", type=int_at_least(1), help="batch size (the model's default if omitted)")
    run.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                     help="any model param, e.g. sizes=512,256,1 (repeatable)")
    run.add_argument("--repeats", type=int_at_least(1), default=10, help="timed passes (default 10)")
    run.add_argument("--warmup", type=int_at_least(0), default=3, help="untimed passes first (default 3)")
    run.add_argument("--threads", type=int_at_least(1), help="limit BLAS to this many threads")
    run.add_argument("--target-ci", type=_target_ci, metavar="PCT",
                     help="after --repeats, keep repeating until the end-to-end median's 95%% confidence "
                          "interval has a half-width within PCT%% of the median, or --budget-s runs out; "
                          "config.target_ci records it, end_to_end.ci_low/ci_high say whether it was met")
    run.add_argument("--budget-s", type=_budget_s, metavar="SECONDS",
                     help=f"with --target-ci: the passes' time budget, warmup included (default {DEFAULT_BUDGET_S:g})")
    run.add_argument("--json", metavar="PATH", help="write the roofwatch.run/1 report here (atomically)")
    run.add_argument("--repository", help="source repository URL (default: from git)")
    run.add_argument("--commit", help="source commit (default: git HEAD)")
    run.add_argument("--branch", help="source branch (default: git's current branch)")
    run.add_argument("--ci-url", help="CI build URL")
    run.add_argument("--inject", type=_injection, action="append", default=[], metavar="KIND:LAYER:FACTOR",
                     help="fault injection for testing detection, off by default (repeatable): "
                          "compute:LAYER:FACTOR adds (FACTOR-1) x the layer's FLOPs as cache-resident GEMMs, "
                          "bandwidth:LAYER:FACTOR streams (FACTOR-1) x its bytes from a 256 MiB buffer; "
                          "the layer's reported FLOPs/bytes stay the same and config.inject records it")
    run.add_argument("--flag", type=_flag, action="append", default=[], metavar="NAME=JSON",
                     help="a feature flag recorded in config.flags, e.g. --flag fast_path=true (repeatable)")
    run.add_argument("--passes", type=_passes, default=[], metavar="all|none|NAME,NAME",
                     help=f"graph optimization passes (default none): {valid_passes_text()}; they run in "
                          "pipeline order; config.passes records them, fused layers list their original "
                          "nodes in sources")

    run.add_argument("--backend", choices=BACKENDS, default=BACKEND_ENGINE,
                     help="which runtime runs the model (default engine): onnxruntime runs the model's ONNX form "
                          "(a zoo model's export, or --onnx FILE) with its profiler on, a layer per node it "
                          "ran; config.backend records it and benchmark params carry it, so series never mix")
    onnx_commands.add_run_options(run)
    quant_commands.add_run_options(run)

    peaks = sub.add_parser("peaks", help="print this machine's measured roofs (1 thread and the BLAS limit)")
    peaks.add_argument("--remeasure", action="store_true",
                       help="measure again, keeping the best of the cached and new values")
    peaks.add_argument("--threads", type=int, default=None, help="the run's thread count (default: BLAS's)")
    onnx_commands.add_commands(sub)
    fusion_commands.add_commands(sub)
    quant_commands.add_commands(sub)
    sweep_commands.add_commands(sub)
    return parser


def _model_params(args: argparse.Namespace) -> dict[str, Any]:
    spec = get_spec(args.model)
    params: dict[str, Any] = {}
    for item in args.param:
        name, sep, text = item.partition("=")
        if not sep:
            raise ModelParamError(f"--param expects NAME=VALUE, got {item!r}")
        params[name] = spec.param(name).parse(text)
    if args.batch is not None:
        if "batch" in params:
            raise ModelParamError("batch given both as --batch and --param batch=...; give it once")
        params["batch"] = args.batch
    return params


def print_models(out: TextIO) -> None:
    for spec in MODELS.values():
        print(f"{spec.name}: {spec.summary}", file=out)
        for p in spec.params:
            print(f"  {p.name:<8} default {p.format(p.default):<24} {p.help}", file=out)


def print_peaks(peaks: Peaks, out: TextIO) -> None:
    print(f"{peaks.threads} thread(s):", file=out)
    print(f"  peak compute   {peaks.gflops:10.1f} GFLOP/s (float32 GEMM)", file=out)
    print(f"  peak bandwidth {peaks.gbs:10.1f} GB/s (stream copy, read + write)", file=out)
    print(f"  ridge point    {peaks.ridge:10.2f} FLOP/byte", file=out)
    if peaks.gather:
        rows = ", ".join(f"{row} B {gbs:.2f}" for row, gbs in sorted(peaks.gather.items()))
        print(f"  gather GB/s by row size (random rows): {rows}", file=out)


def _num(value: float | None, scale: float, width: int, digits: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value * scale:{width}.{digits}f}"


def print_run(run: BenchmarkRun, out: TextIO) -> None:
    print_report(run.report, run.result.peaks, out)


def print_report(rep: Report, peaks: Peaks, out: TextIO) -> None:
    params = ", ".join(f"{k}={v}" for k, v in rep.benchmark.params.items())
    print(f"{rep.benchmark.model} ({params}) version {rep.benchmark.model_version}", file=out)
    print(f"threads {rep.config.threads}; peaks {peaks.gflops:.1f} GFLOP/s, {peaks.gbs:.1f} GB/s, "
          f"ridge {peaks.ridge:.2f} FLOP/B; warmup {rep.warmup}, repeats {rep.repeats}", file=out)
    name_w = max([16, *(len(ly.name) for ly in rep.layers)])
    op_w = max([10, *(len(ly.op) for ly in rep.layers)])
    header = (f"{'layer':<{name_w}} {'op':<{op_w}} {'median ms':>10} {'GFLOP/s':>9} {'GB/s':>8} {'AI':>8} "
              f"{'% roof':>7} {'thr':>3} {'roof':>6}  bound")
    print(header, file=out)
    print("-" * len(header), file=out)
    for ly in rep.layers:
        fraction = fraction_of_roof(ly)
        roof = f"{'-':>6} " if fraction is None else f"{100.0 * fraction:6.1f}%"
        print(f"{ly.name:<{name_w}} {ly.op:<{op_w}} {ly.time.median * 1e3:10.3f} {_num(ly.gflops, 1, 9, 1)} "
              f"{_num(ly.gbs, 1, 8, 2)} {_num(ly.ai, 1, 8, 2)} {roof} {ly.threads:>3} {ly.roof:>6}  "
              f"{ly.bound or '-'}", file=out)
        if ly.sources != [ly.name]:
            print(f"{'':<{name_w}}   covers {', '.join(ly.sources) or 'no node of the model'}", file=out)
        if ly.work_unknown:
            print(f"{'':<{name_w}}   work unknown: {ly.work_unknown}", file=out)
    e2e = rep.end_to_end
    total_flops = sum(ly.flops or 0 for ly in rep.layers)
    print(f"end to end: median {e2e.median * 1e3:.3f} ms (p25 {e2e.p25 * 1e3:.3f}, p75 {e2e.p75 * 1e3:.3f}, "
          f"min {e2e.min * 1e3:.3f}); {total_flops / e2e.median / 1e9:.1f} GFLOP/s", file=out)
    width = ci_half_width_pct(e2e)
    if width is not None:
        print(f"end to end 95% CI of the median: {e2e.ci_low * 1e3:.3f} .. {e2e.ci_high * 1e3:.3f} ms "
              f"(half-width {width:.2f}%)", file=out)
    if rep.config.target_ci is not None:
        met = width is not None and width <= rep.config.target_ci
        print(f"target CI {rep.config.target_ci:g}%: {'met' if met else 'NOT met'} after {rep.repeats} repeats "
              f"(budget {rep.config.budget_s:g} s)", file=out)
    if rep.timed_page_faults is not None:
        print(f"page faults in the timed passes: {rep.timed_page_faults} (warmup {rep.warmup} pairs)", file=out)
    if rep.profiler_overhead is not None:
        print(f"profiler overhead: {rep.profiler_overhead * 100:+.1f}% (per-layer timing vs plain passes)", file=out)
    if rep.config.runtime:
        shown = ", ".join(f"{k} {v}" for k, v in rep.config.runtime.items() if k != "providers")
        unknown = sum(1 for ly in rep.layers if ly.work_unknown)
        print(f"backend {rep.config.backend}: {shown}; {unknown} of {len(rep.layers)} layers of unknown work "
              "(end-to-end GFLOP/s counts known work only)", file=out)
    if rep.config.passes:
        noop = rep.config.flags.get("passes_noop", [])
        applied = [p for p in rep.config.passes if p not in noop]
        print(f"passes applied: {', '.join(applied) or 'none'}; no-op here: {', '.join(noop) or 'none'}",
              file=out)
    quant_commands.print_accuracy(rep, out)
    if rep.config.inject:
        print(f"INJECTED FAULTS: {', '.join(rep.config.inject)}", file=out)


def cmd_run(args: argparse.Namespace) -> int:
    source = detect_source(repository=args.repository, commit=args.commit, branch=args.branch, ci_url=args.ci_url)
    if args.budget_s is not None and args.target_ci is None:
        raise ModelParamError("--budget-s bounds --target-ci's extra repeats; give --target-ci too")
    target = dict(target_ci=args.target_ci, budget_s=args.budget_s)
    if args.backend == BACKEND_ORT:
        return _run_ort(args, source, target)
    if _onnx_file_run(args):
        options = RunOptions(warmup=args.warmup, repeats=args.repeats, threads=args.threads, source=source,
                             inject=args.inject, passes=args.passes, flags=dict(args.flag), **target,
                             **quant_commands.quant_options(args))
        run = onnx_commands.run_onnx_benchmark(args.onnx, batch=args.batch, input_ranges=args.input_range,
                                               options=options, repo_path=args.repo_path)
        return _finish_run(run, args)
    if args.model is None:
        raise ModelParamError("run needs a model name (see `models`) or --onnx FILE")
    params = _model_params(args)
    options = RunOptions(warmup=args.warmup, repeats=args.repeats, threads=args.threads, source=source,
                         inject=args.inject, passes=args.passes, flags=dict(args.flag), **target,
                         **quant_commands.quant_options(args))
    run = run_benchmark(args.model, params, options)
    return _finish_run(run, args)


def _onnx_file_run(args: argparse.Namespace) -> bool:
    """Whether the run is of --onnx FILE; refuses a mix with a model name, and a bad --repo-path."""
    if args.onnx is None and not args.input_range and args.repo_path is None:
        return False
    if args.model is not None or args.param or args.onnx is None:
        raise ModelParamError("run takes either a model name (with --param) or --onnx FILE "
                              "(with --input-range, --repo-path), not both")
    if args.repo_path is not None and (problem := onnx_path_error(args.repo_path)):
        raise ModelParamError(f"--repo-path: {problem}")
    return True


def _run_ort(args: argparse.Namespace, source, target: dict[str, Any]) -> int:
    """run --backend onnxruntime: a zoo model through its export, or --onnx FILE."""
    options = RunOptions(warmup=args.warmup, repeats=args.repeats, threads=args.threads, source=source,
                         inject=args.inject, passes=args.passes, flags=dict(args.flag), **target,
                         **quant_commands.quant_options(args))
    if _onnx_file_run(args):
        run = run_onnx_file_ort(args.onnx, batch=args.batch, input_ranges=args.input_range, options=options,
                                repo_path=args.repo_path)
    elif args.model is None:
        raise ModelParamError("run needs a model name (see `models`) or --onnx FILE")
    else:
        run = run_zoo_ort(args.model, _model_params(args), options)
    print_report(run.report, run.peaks, sys.stdout)
    return _write_report(run.report, args)


def _finish_run(run: BenchmarkRun, args: argparse.Namespace) -> int:
    print_run(run, sys.stdout)
    return _write_report(run.report, args)


def _write_report(report: Report, args: argparse.Namespace) -> int:
    if args.json:
        path = write_text_atomic(args.json, report.to_json() + "\n")
        print(f"report written to {path}", file=sys.stdout)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "models":
            print_models(sys.stdout)
            return 0
        if args.command == "peaks":
            for roof in measure_roofs(args.threads, remeasure=args.remeasure).values():
                print_peaks(roof, sys.stdout)
            return 0
        if args.command == "export-onnx":
            return onnx_commands.cmd_export_onnx(_model_params(args), args, sys.stdout)
        if args.command == "compare-ort":
            return onnx_commands.cmd_compare_ort(_model_params(args), args, sys.stdout)
        if args.command == "fusion-search":
            return fusion_commands.cmd_fusion_search(args, sys.stdout)
        if args.command == "sweep":
            return sweep_commands.cmd_sweep(args, _model_params(args) if args.model else {}, sys.stdout)
        if args.command == "quant-sweep":
            return quant_commands.cmd_quant_sweep(_model_params(args), args, sys.stdout)
        return cmd_run(args)
    except (UnknownModelError, ModelParamError, InjectionError, OnnxIOError, *quant_commands.QUANT_ERRORS) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
