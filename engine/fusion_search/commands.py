"""The CLI's fusion-search command (wired into engine/cli.py):

    roofwatch-engine fusion-search [MODEL ...] [--top K] [--small] [--batch N] [--repeats N]
                                   [--threads N] [--max-size N] [--bandwidth max|achieved|peak] [--no-epilogues]
                                   [--no-measure] [--json PATH]
"""
from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from typing import Any, TextIO

from engine.argtypes import int_at_least
from engine.atomic_file import write_text_atomic
from engine.fusion_search.estimate import BANDWIDTHS
from engine.fusion_search.search import Pattern, SearchResult, Settings, search
from engine.fusion_search.subgraphs import MAX_SIZE_LIMIT
from engine.models import MODELS, Model, ModelParamError, build_model, get_spec

JSON_SCHEMA = "roofwatch.fusion-search/1"
PATTERN_WIDTH = 48  # longer labels are cut in the row and printed whole below it
SMALL = "_small"


def add_commands(sub: Any) -> None:
    fs = sub.add_parser("fusion-search", help="rank the zoo's fusable subgraphs by estimated and measured gain")
    fs.add_argument("models", nargs="*", metavar="MODEL",
                    help="models to search (see `models`; default: every zoo model but the _small variants)")
    fs.add_argument("--top", type=int_at_least(1), default=10, help="patterns to print (default 10)")
    fs.add_argument("--small", action="store_true",
                    help="use each model's _small variant where there is one (fast)")
    fs.add_argument("--batch", type=int_at_least(1), help="batch size for every model (their defaults if omitted)")
    fs.add_argument("--repeats", type=int_at_least(1), default=10, help="timed passes per profile (default 10)")
    fs.add_argument("--warmup", type=int_at_least(0), default=2, help="untimed passes first (default 2)")
    fs.add_argument("--threads", type=int_at_least(1), help="limit BLAS to this many threads")
    fs.add_argument("--max-size", type=_max_size, default=4,
                    help=f"largest subgraph in nodes, 2..{MAX_SIZE_LIMIT} (default 4)")
    fs.add_argument("--bandwidth", choices=BANDWIDTHS, default="max",
                    help="price of a saved byte: the GB/s the pattern's data-parallel layers achieved, the "
                         "machine's peak copy bandwidth, or the higher of the two (default max)")
    fs.add_argument("--no-epilogues", action="store_true",
                    help="only purely data-parallel patterns (no GEMM/Conv + epilogue)")
    fs.add_argument("--no-measure", action="store_true",
                    help="skip profiling the passes that already fuse a pattern")
    fs.add_argument("--json", metavar="PATH", help="also write the ranking here as JSON (atomically)")


def _max_size(text: str) -> int:
    value = int_at_least(2)(text)
    if value > MAX_SIZE_LIMIT:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_SIZE_LIMIT}, got {value}")
    return value


def model_names(requested: Sequence[str], small: bool) -> list[str]:
    """The models to search, in order, without repeats; unknown names raise UnknownModelError."""
    names = list(requested) or [n for n in MODELS if not (n.endswith(SMALL) and n[:-len(SMALL)] in MODELS)]
    out = []
    for name in names:
        get_spec(name)
        if small and not name.endswith(SMALL) and name + SMALL in MODELS:
            name += SMALL
        if name not in out:
            out.append(name)
    return out


def build_models(names: Sequence[str], batch: int | None) -> list[Model]:
    models = []
    for name in names:
        params: dict[str, Any] = {}
        if batch is not None:
            if "batch" not in {p.name for p in get_spec(name).params}:
                raise ModelParamError(f"--batch given but model {name!r} has no batch param")
            params["batch"] = batch
        models.append(build_model(name, **params))
    return models


_PRICE = {"max": "max(achieved, peak) GB/s", "achieved": "achieved GB/s", "peak": "peak GB/s"}


def _ms(seconds: float) -> float:
    return seconds * 1e3


def _x(ratio: float | None) -> str:
    return "—" if ratio is None else ("inf" if math.isinf(ratio) else f"{ratio:.2f}x")


def _models_text(p: Pattern) -> str:
    return ", ".join(f"{name}×{n}" if n > 1 else name for name, n in p.models.most_common())


def print_result(result: SearchResult, top: int, out: TextIO) -> None:
    s = result.settings
    print(f"fusion search over {len(result.models)} model(s): "
          f"{', '.join(m.name for m in result.models)}", file=out)
    print(f"subgraphs of 2..{s.max_size} nodes, {'with' if s.epilogues else 'without'} GEMM/Conv epilogues; "
          f"saved bytes priced at {_PRICE[s.bandwidth]} "
          f"(peak {result.peaks.gbs:.1f} GB/s); warmup {s.warmup}, repeats {s.repeats}"
          f"{f', threads {s.threads}' if s.threads else ''}", file=out)
    shown = result.patterns[:top]
    if not shown:
        print("no fusable subgraph saves any bytes in these models", file=out)
        return
    pat_w = min(PATTERN_WIDTH, max(7, *(len(p.label) for p in shown)))
    header = (f"{'rank':>4}  {'pattern':<{pat_w}}  {'kind':<13} {'occ':>4} {'unfused ms':>10} {'est. saved ms':>13} "
              f"{'est. speedup':>12} {'measured':>9}  pass")
    print(header, file=out)
    print("-" * len(header), file=out)
    for i, p in enumerate(shown, 1):
        passes = ", ".join(p.passes) or "—"
        if p.measured and len(p.measured) < len(p.occurrences):
            passes += f" ({len(p.measured)}/{len(p.occurrences)} occ.)"
        name = p.label if len(p.label) <= pat_w else p.label[:pat_w - 1] + "…"
        print(f"{i:>4}  {name:<{pat_w}}  {p.kind:<13} {len(p.occurrences):>4} {_ms(p.time_s):10.4f} "
              f"{_ms(p.saved_s):13.4f} {_x(p.speedup):>12} {_x(p.measured_speedup):>9}  {passes}", file=out)
        if name != p.label:
            print(f"{'':>4}  pattern {p.label}", file=out)
        print(f"{'':>4}  in {_models_text(p)}", file=out)
    total = sum(result.end_to_end_s.values())
    print(f"{len(result.patterns)} pattern(s) found; est. saved ms is per inference of each model, summed "
          f"over occurrences (unfused end to end of all models: {_ms(total):.3f} ms); patterns overlap", file=out)


def result_json(result: SearchResult, top: int) -> dict[str, Any]:
    s = result.settings

    def finite(x: float | None) -> float | None:
        return None if x is None or math.isinf(x) else x

    return {
        "schema": JSON_SCHEMA,
        "models": [{"name": m.name, "params": m.params, "end_to_end_ms": _ms(result.end_to_end_s[m.name])}
                   for m in result.models],
        "settings": {"max_size": s.max_size, "bandwidth": s.bandwidth, "epilogues": s.epilogues,
                     "warmup": s.warmup, "repeats": s.repeats, "measure": s.measure, "threads": s.threads},
        "peaks": {"gflops": result.peaks.gflops, "gbs": result.peaks.gbs},
        "patterns_found": len(result.patterns),
        "patterns": [{
            "rank": i,
            "pattern": p.label,
            "kind": p.kind,
            "signature": [[op, [list(r) for r in refs]] for op, refs in p.signature],
            "occurrences": len(p.occurrences),
            "models": dict(p.models.most_common()),
            "unfused_ms": _ms(p.time_s),
            "est_saved_ms": _ms(p.saved_s),
            "est_saved_bytes": p.saved_bytes,
            "est_speedup": finite(p.speedup),
            "measured_speedup": finite(p.measured_speedup),
            "passes": p.passes,
            "measured": [{"model": m.model, "nodes": sorted(m.nodes), "passes": list(m.passes),
                          "unfused_ms": _ms(m.unfused_s), "fused_ms": _ms(m.fused_s)} for m in p.measured],
            "where": [{"model": o.model, "nodes": list(o.nodes), "anchor": o.anchor,
                       "unfused_ms": _ms(o.estimate.time_s), "est_saved_ms": _ms(o.estimate.saved_s),
                       "bytes": o.estimate.traffic.total, "saved_bytes": o.estimate.traffic.saved,
                       "gbs": o.estimate.gbs} for o in p.occurrences],
        } for i, p in enumerate(result.patterns[:top], 1)],
    }


def cmd_fusion_search(args: argparse.Namespace, out: TextIO) -> int:
    models = build_models(model_names(args.models, args.small), args.batch)
    settings = Settings(max_size=args.max_size, bandwidth=args.bandwidth, epilogues=not args.no_epilogues,
                        warmup=args.warmup, repeats=args.repeats, measure=not args.no_measure,
                        threads=args.threads)
    result = search(models, settings)
    print_result(result, args.top, out)
    if args.json:
        path = write_text_atomic(args.json, json.dumps(result_json(result, args.top), indent=2,
                                                       ensure_ascii=False, allow_nan=False) + "\n")
        print(f"ranking written to {path}", file=out)
    return 0
