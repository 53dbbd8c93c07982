"""The CLI's quantization options and command (wired into engine/cli.py):

    roofwatch-engine run MODEL --quant MODE[,MODE] [--calibration minmax|percentile|kl] [--quant-fp32 NAME,NAME]
    roofwatch-engine quant-sweep MODEL [--batch N] [--param K=V] [--passes P] --quant MODE
                                 [--max-abs-error X] [--min-agreement Y]
"""
from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any, TextIO

from engine.argtypes import int_at_least
from engine.models import build_model
from engine.passes import PASSES, UnknownPassError, resolve_passes, run_passes, valid_passes_text
from engine.quant.accuracy import ACCURACY_SEEDS, AccuracyDelta
from engine.quant.calibrate import CalibrationError
from engine.quant.modes import CALIBRATION_METHODS, QuantError, UnknownQuantError, resolve_quant, valid_quant_text
from engine.quant.selective import Budget, SweepResult, sensitivity_sweep
from engine.report import Report

QUANT_ERRORS = (QuantError, CalibrationError)  # cli.main turns them into exit 2


def _quant(text: str) -> str:
    try:
        return resolve_quant(text).text
    except UnknownQuantError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _passes(text: str) -> list[str]:
    try:
        return resolve_passes(text)
    except UnknownPassError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _names(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated layer names, got {text!r}")
    return names


def _nonnegative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _fraction(text: str) -> float:
    value = _nonnegative_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}")
    return value


def _add_quant_options(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument("--quant", type=_quant, default="none", required=required, metavar="MODE[,MODE]",
                        help=f"quantization (default none): {valid_quant_text()}")
    parser.add_argument("--calibration", choices=CALIBRATION_METHODS,
                        help="int8-static's activation range method (default percentile)")


def add_run_options(run: argparse.ArgumentParser) -> None:
    _add_quant_options(run, required=False)
    run.add_argument("--quant-fp32", type=_names, action="append", default=[], metavar="NAME,NAME",
                     help="keep these quantizable layers in fp32 (names after --passes; quant-sweep suggests them)")


def quant_options(args: argparse.Namespace) -> dict[str, Any]:
    """RunOptions' quant fields from parsed `run` options."""
    return {"quant": args.quant, "calibration": args.calibration,
            "quant_fp32": [name for names in args.quant_fp32 for name in names]}


def add_commands(sub: Any) -> None:
    sweep = sub.add_parser("quant-sweep", help="find the layers to keep in fp32 so that quantization meets an "
                                               "accuracy budget")
    sweep.add_argument("model", help="model name (see `models`)")
    sweep.add_argument("--batch", type=int_at_least(1), help="batch size (the model's default if omitted)")
    sweep.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="any model param")
    sweep.add_argument("--passes", type=_passes, default=[], metavar="all|none|NAME,NAME",
                       help=f"graph passes before quantizing, as for run: {valid_passes_text()}")
    _add_quant_options(sweep, required=True)
    sweep.add_argument("--max-abs-error", type=_nonnegative_float, metavar="X",
                       help="budget: max abs error of the outputs against fp32")
    sweep.add_argument("--min-agreement", type=_fraction, metavar="Y",
                       help="budget: AUC agreement (ranking models) or top-1 agreement (classifiers) at least Y")
    sweep.add_argument("--seeds", type=int_at_least(1), default=len(ACCURACY_SEEDS),
                       help=f"held-out input batches to measure on (default {len(ACCURACY_SEEDS)})")


def _accuracy_text(delta: AccuracyDelta) -> str:
    text = f"max abs error {delta.max_abs_error:.3g}, mean abs error {delta.mean_abs_error:.3g}"
    return text + (f", {delta.metric} {delta.agreement:.4f}" if delta.agreement is not None else "")


def print_accuracy(report: Report, out: TextIO) -> None:
    """The run summary's quantization lines."""
    if report.config.quant == "none" or report.accuracy is None:
        return
    acc = report.accuracy
    noop = report.config.flags.get("quant_noop", [])
    print(f"quant {report.config.quant}" + (f" (no-op here: {', '.join(noop)})" if noop else "")
          + (f"; calibration {acc.calibration}" if acc.calibration else "")
          + (f"; kept in fp32: {', '.join(acc.fp32_layers)}" if acc.fp32_layers else ""), file=out)
    agreement = f", {acc.metric} {acc.agreement:.4f}" if acc.agreement is not None else ""
    print(f"accuracy vs fp32 on {acc.samples} held-out samples: max abs error {acc.max_abs_error:.3g}, "
          f"mean abs error {acc.mean_abs_error:.3g}{agreement}", file=out)


def print_sweep(name: str, params: Mapping[str, Any], run_args: str, result: SweepResult, out: TextIO) -> int:
    """The sensitivity table and the verdict; `run_args` are the model options
    the suggested `run` command repeats. Returns the exit status."""
    shown = ", ".join(f"{k}={v}" for k, v in params.items())
    print(f"{name} ({shown}); --quant {result.request.text}; budget: {result.budget}", file=out)
    if not result.sensitivities:
        print(f"nothing to quantize: --quant {result.request.text} is a no-op on this model", file=out)
        return 0
    name_w = max(16, *(len(s.layer) for s in result.sensitivities))
    metric = result.sensitivities[0].delta.metric
    print("sensitivity, each layer quantized alone (most harmful first):", file=out)
    header = f"  {'layer':<{name_w}} {'mode':<17} {'max abs err':>12} {'mean abs err':>12}"
    print(header + (f" {metric:>15}" if metric != "none" else ""), file=out)
    for s in result.sensitivities:
        row = f"  {s.layer:<{name_w}} {s.mode:<17} {s.delta.max_abs_error:12.3g} {s.delta.mean_abs_error:12.3g}"
        print(row + (f" {s.delta.agreement:15.4f}" if s.delta.agreement is not None else ""), file=out)
    print(f"all {len(result.sensitivities)} quantized: {_accuracy_text(result.steps[0].delta)}", file=out)
    for step in result.steps[1:]:
        print(f"  + {step.fp32_layers[-1]} in fp32: {_accuracy_text(step.delta)}", file=out)
    kept, total = result.fp32_layers, len(result.sensitivities)
    if not result.met:
        print(f"budget NOT met even with all {total} quantizable layers in fp32 (the fp32 graph after passes "
              f"differs from the model by {_accuracy_text(result.final)}); loosen the budget", file=out)
        return 1
    if len(kept) == total:
        print(f"budget met only with every quantizable layer in fp32: --quant {result.request.text} buys nothing "
              "here at this budget", file=out)
    else:
        print(f"budget met with {len(kept)} of {total} quantizable layers in fp32"
              + (f": {', '.join(kept)}" if kept else ""), file=out)
    run = f"roofwatch-engine run {name}{run_args} --quant {result.request.text}"
    if result.request.calibration:
        run += f" --calibration {result.request.calibration}"
    if kept and len(kept) < total:
        run += f" --quant-fp32 {','.join(kept)}"
    print(f"use: {run}", file=out)
    return 0


def cmd_quant_sweep(params: Mapping[str, Any], args: argparse.Namespace, out: TextIO) -> int:
    budget = Budget(max_abs_error=args.max_abs_error, min_agreement=args.min_agreement)
    request = resolve_quant(args.quant, args.calibration)
    if request.is_none:
        raise QuantError(f"quant-sweep needs a --quant mode other than 'none'; valid: {valid_quant_text()}")
    built = build_model(args.model, **params)
    graph = run_passes(built.graph, args.passes).graph
    seeds = tuple(ACCURACY_SEEDS[0] + i for i in range(args.seeds))
    result = sensitivity_sweep(built.name, graph, request, built.make_inputs, budget, accuracy_seeds=seeds,
                               reference=built.graph)
    run_args = "".join(f" --param {item}" for item in args.param)
    run_args += f" --batch {args.batch}" if args.batch is not None else ""
    if args.passes:
        run_args += " --passes " + ("all" if args.passes == list(PASSES) else ",".join(args.passes))
    return print_sweep(built.name, built.params, run_args, result, out)
