"""The CLI's ONNX commands (wired into engine/cli.py):

    roofwatch-engine export-onnx MODEL PATH [--batch N] [--param K=V]
    roofwatch-engine run --onnx FILE [--input-range NAME=LO:HI] [--batch N] ...
    roofwatch-engine compare-ort MODEL [--batch N] [--param K=V] [--threads N] [--repeats N]

compare-ort races the engine and onnxruntime each in its own worker process
(engine/onnx_io/process_race.py), one at a time in alternating blocks, so
neither runtime's threads steal the other's cores.
"""
from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from engine.argtypes import int_at_least
from engine.benchmark import INPUT_SEED, BenchmarkRun, RunOptions, profile_model
from engine.inject import parse_injections
from engine.models import Model, build_model, get_spec
from engine.onnx_io.errors import OnnxIOError
from engine.onnx_io.export_graph import save_onnx
from engine.onnx_io.import_graph import import_onnx, load_checked, symbolic_batch_inputs
from engine.onnx_io.onnx_inputs import parse_input_range, synthesize_inputs
from engine.onnx_io.process_race import RaceResult, engine_vs_ort, race_processes
from engine.onnx_spec import report_identity
from engine.roofline import blas_threads


def add_run_options(run: argparse.ArgumentParser) -> None:
    run.add_argument("--onnx", metavar="FILE", help="profile an imported ONNX model instead of a registered one")
    run.add_argument("--input-range", action="append", default=[], metavar="NAME=LO:HI",
                     help="with --onnx: integer input NAME gets values in [LO, HI) (default: from the size of "
                          "the Gather/EmbeddingBag it indexes; repeatable)")
    run.add_argument("--repo-path", metavar="PATH",
                     help="with --onnx: the file's path relative to its repository's root; the report names "
                          "the model 'onnx' with params.path PATH (part of the series identity) instead of "
                          "onnx:<stem> with the file's name")


def add_commands(sub: Any) -> None:
    export = sub.add_parser("export-onnx", help="export a model with its weights to an ONNX file")
    export.add_argument("model", help="model name (see `models`)")
    export.add_argument("path", help="where to write the .onnx file (atomically)")
    export.add_argument("--batch", type=int_at_least(1), help="batch size (the model's default if omitted)")
    export.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="any model param")

    compare = sub.add_parser(
        "compare-ort", help="race a model against onnxruntime, each in its own process",
        description="Race a zoo model in the engine against its ONNX export in onnxruntime. Each runtime runs "
                    "in its own worker process, one at a time, in alternating blocks of passes (each block waits "
                    "for the other's threads to stop spinning and opens with one untimed pass); prints each median with its p25-p75 spread and the load average.")
    compare.add_argument("model", help="model name (see `models`)")
    compare.add_argument("--batch", type=int_at_least(1), help="batch size (the model's default if omitted)")
    compare.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="any model param")
    compare.add_argument("--threads", type=int_at_least(1),
                         help="threads for both engines (default: the BLAS thread count)")
    compare.add_argument("--repeats", type=int_at_least(1), default=20, help="timed passes of each (default 20)")
    compare.add_argument("--warmup", type=int_at_least(0), default=3, help="untimed passes first (default 3)")
    compare.add_argument("--blocks", type=int_at_least(1), default=5,
                         help="turns each runtime takes, the repeats split among them (default 5)")


def cmd_export_onnx(params: Mapping[str, Any], args: argparse.Namespace, out: TextIO) -> int:
    built = build_model(args.model, **params)
    path = save_onnx(built.graph, args.path)
    shown = ", ".join(f"{k}={v}" for k, v in built.params.items())
    print(f"{built.name} ({shown}) exported to {path} ({path.stat().st_size} bytes)", file=out)
    return 0


def print_race(name: str, params: Mapping[str, Any], result: RaceResult, out: TextIO) -> None:
    shown = ", ".join(f"{k}={v}" for k, v in params.items())
    print(f"{name} ({shown}); threads {result.threads['ours']}, repeats {result.repeats}, "
          "each runtime in its own process", file=out)
    print(f"  ours         median {result.samples['ours'].text()}", file=out)
    print(f"  onnxruntime  median {result.samples['ort'].text()}", file=out)
    print(f"  ours/ORT     {result.ratio('ours', 'ort'):.2f}", file=out)
    print(f"  {result.load_text()}", file=out)


def cmd_compare_ort(params: Mapping[str, Any], args: argparse.Namespace, out: TextIO) -> int:
    resolved = get_spec(args.model).resolve(params)  # unknown names and bad params fail before any worker
    threads = args.threads or blas_threads()
    result = race_processes(engine_vs_ort(args.model, resolved, threads, INPUT_SEED), repeats=args.repeats,
                            warmup=args.warmup, blocks=args.blocks)
    print_race(args.model, resolved, result, out)
    return 0


def run_onnx_benchmark(path: str | Path, *, batch: int | None = None, input_ranges: Sequence[str] = (),
                       options: RunOptions = RunOptions(), repo_path: str | None = None) -> BenchmarkRun:
    """Profile an imported ONNX model as run_benchmark profiles a registered
    one. The report names the model `onnx:<file stem>` with the file name in
    its params, or `onnx` with params.path = `repo_path` for a repository's
    file (engine.onnx_spec.report_identity); the params add the batch if one
    was forced and the input ranges given.
    `options.passes` run on the imported graph (see engine.passes; the importer's
    spellings, e.g. MatMul + Add + Relu or Gemm + Relu, fuse like the zoo's),
    then the quant options as for run_benchmark (calibration and accuracy use
    inputs synthesized as for the timing)."""
    options = dataclasses.replace(options, inject=parse_injections(options.inject))  # bad specs fail first
    ranges = dict(parse_input_range(text) for text in input_ranges)
    model_proto, label = load_checked(path)
    if batch is not None and not symbolic_batch_inputs(model_proto):
        raise OnnxIOError(f"{label}: --batch {batch} given but every input has a fixed batch dimension; "
                          "export the model again at the batch you want")
    graph = import_onnx(path, batch=batch)  # loads the file again so that errors name it
    name, params = report_identity(str(path), batch=batch, ranges=ranges, repo_path=repo_path)
    model = Model(name=name, params=params, graph=graph,
                  make_inputs=lambda seed=0: synthesize_inputs(graph, seed, ranges))
    return profile_model(model, options)
