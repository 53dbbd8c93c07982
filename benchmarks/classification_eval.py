"""Accuracy of the roofline classification (platform/regressions/classify.py)
on a labelled set of REAL engine runs.

    .venv/bin/python benchmarks/classification_eval.py [--trials 2] [--runs 3] [--repeats 10]
                                                       [--threads 1] [--only TEXT] [--save DIR | --load DIR]
    .venv/bin/python benchmarks/classification_eval.py --speed

Every case is a change between two groups of `runs` engine runs of one model,
run interleaved (before, after, before, after, ...) so load from other
processes falls on both groups alike, then classified from the reports alone
(config.inject is never read). The truth label comes from how the change was
made:

- matched:  fault injection (engine/inject.py) on a layer whose roofline bound
            is the injection's kind: `compute:L:F` on a compute-bound layer is
            labelled compute, `bandwidth:L:F` on a memory-bound layer bandwidth;
- work:     a real model change through size params (wider layers, a longer
            pooling or sequence, a wider embedding, more encoder layers) with
            the same layer names where the graph allows;
- overhead: bandwidth injection on the Relus of a tiny model whose layers
            take 1-3 microseconds: 99 x 128 B = 12.7 KB streamed, under a
            microsecond at the DRAM roof, so what the layer gains is mostly
            the extra calls: dispatch time;
- null:     no change at all: the right answer is "unknown";
- crossed:  injection against the layer's bound (bandwidth on a compute-bound
            layer, compute on a memory-bound one), labelled with the injection
            kind. Per-layer time plus nominal FLOPs/bytes cannot tell extra
            arithmetic from extra traffic inside one layer (both lower FLOP/s
            and GB/s by the same ratio), so the roofline names the layer's
            bound. These are printed and scored separately, and kept out of the
            headline accuracy, which covers the roofline-decidable cases.

Injection factors are chosen so the injected layer gains at least ~3% of the
model's time: the classifier leaves changes under 2% of the layers' total
"unknown" by design (MIN_TOTAL_SHARE), and a case below that would test the
floor, not the classification.

One BLAS thread by default: on this shared 2-core machine a second BLAS thread
mostly measures the neighbours (the peaks are measured per thread count, so the
roofline stays this configuration's own). The load average is printed before
and after: other processes on the machine are the main source of error.

The same data are also classified from one run per side (the first of each
group), to show what a single before/after pair can and cannot decide.

--save DIR writes every report as JSON; --load DIR classifies saved reports
again without running the engine (to study the classifier on fixed data).
--speed prints how long one classification takes for a 100-layer model with
5 runs a side (median of 30), and exits.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "platform")]

from engine.argtypes import int_at_least  # noqa: E402
from regressions.classify import KINDS, Verdict, classify_change  # noqa: E402
from regressions.report_obs import run_obs_from_report  # noqa: E402

GOAL = 0.95


@dataclass(frozen=True)
class Case:
    name: str
    group: str  # matched | work | overhead | null | crossed
    truth: str  # one of KINDS
    model: str
    before: dict
    after: dict | None = None  # params after the change (None: same as before)
    inject: tuple[str, ...] = ()
    layer: str | None = None  # the layer the change targets, for the printout

    @property
    def params_after(self) -> dict:
        return self.after if self.after is not None else self.before


MLP = {"batch": 64, "sizes": [512, 1024, 1024, 512, 256]}
DLRM = {"batch": 64, "rows": 20000}
WDL = {"batch": 64, "rows": 20000}
DIN = {"batch": 64, "rows": 20000, "seq_len": 30}
DIEN = {"batch": 32, "rows": 20000, "seq_len": 20}
TRANSFORMER = {"batch": 4, "seq_len": 64, "layers": 1, "d_model": 256, "ffn": 1024, "vocab": 4000}
TINY_MLP = {"batch": 1, "sizes": [16, 16, 16, 16]}


def cases() -> list[Case]:
    def inj(group, truth, model, params, spec):
        return Case(f"{model} {spec}", group, truth, model, params, inject=(spec,), layer=spec.split(":")[1])

    def change(model, before, after, what, layer=None):
        return Case(f"{model} {what}", "work", "work", model, before, after, layer=layer)

    return [
        # compute injection on compute-bound layers
        inj("matched", "compute", "mlp", MLP, "compute:fc2:2"),
        inj("matched", "compute", "mlp", MLP, "compute:fc4:3"),
        inj("matched", "compute", "dlrm", DLRM, "compute:top.fc1:2"),
        inj("matched", "compute", "dlrm", DLRM, "compute:bot.fc2:3"),
        inj("matched", "compute", "wdl", WDL, "compute:deep.fc1:1.5"),
        inj("matched", "compute", "din", DIN, "compute:att.fc1:2"),
        inj("matched", "compute", "dien", DIEN, "compute:extractor:2"),
        inj("matched", "compute", "transformer", TRANSFORMER, "compute:l1.ffn1:1.5"),
        inj("matched", "compute", "transformer", TRANSFORMER, "compute:l1.attn.q.matmul:3"),
        # bandwidth injection on memory-bound layers
        inj("matched", "bandwidth", "mlp", MLP, "bandwidth:relu1:6"),
        inj("matched", "bandwidth", "dlrm", DLRM, "bandwidth:emb0:8"),
        inj("matched", "bandwidth", "dlrm", DLRM, "bandwidth:emb5:20"),
        inj("matched", "bandwidth", "wdl", WDL, "bandwidth:deep.input:5"),
        inj("matched", "bandwidth", "wdl", WDL, "bandwidth:wide.sparse:80"),
        inj("matched", "bandwidth", "din", DIN, "bandwidth:att.fc1.act:3"),
        inj("matched", "bandwidth", "din", DIN, "bandwidth:item.hist:4"),
        inj("matched", "bandwidth", "dien", DIEN, "bandwidth:att.features:3"),
        inj("matched", "bandwidth", "transformer", TRANSFORMER, "bandwidth:l1.attn.softmax:6"),
        inj("matched", "bandwidth", "transformer", TRANSFORMER, "bandwidth:l1.ffn_relu:3"),
        # real model changes
        change("mlp", MLP, {**MLP, "sizes": [512, 1024, 1536, 512, 256]}, "fc2/fc3 1024->1536 wide", "fc2"),
        change("mlp", MLP, {**MLP, "sizes": [512, 1024, 1024, 512, 512, 256]}, "one more layer (fc5)", "fc5"),
        change("dlrm", DLRM, {**DLRM, "pooling": 40}, "pooling 20->40 (bigger bags)", "emb0"),
        change("wdl", WDL, {**WDL, "pooling": 40}, "pooling 4->40 (bigger bags)", "emb0"),
        change("din", DIN, {**DIN, "dim": 96}, "embedding dim 64->96", "att.fc1"),
        change("dien", DIEN, {**DIEN, "seq_len": 40}, "sequence 20->40", "extractor"),
        change("transformer", TRANSFORMER, {**TRANSFORMER, "ffn": 2048}, "ffn 1024->2048", "l1.ffn1"),
        change("transformer", TRANSFORMER, {**TRANSFORMER, "layers": 2}, "2 encoder layers (new l2.*)", "l2.ffn1"),
        # overhead: microsecond layers
        inj("overhead", "overhead", "mlp", TINY_MLP, "bandwidth:relu1:100"),
        inj("overhead", "overhead", "mlp", TINY_MLP, "bandwidth:relu2:100"),
        # no change
        Case("mlp no change", "null", "unknown", "mlp", MLP),
        Case("dlrm no change", "null", "unknown", "dlrm", DLRM),
        Case("transformer no change", "null", "unknown", "transformer", TRANSFORMER),
        # against the layer's bound: the roofline names the bound, not the injected kind
        inj("crossed", "bandwidth", "mlp", MLP, "bandwidth:fc2:4"),
        inj("crossed", "bandwidth", "transformer", TRANSFORMER, "bandwidth:l1.ffn2:4"),
        inj("crossed", "compute", "transformer", TRANSFORMER, "compute:l1.attn.softmax:20"),
        inj("crossed", "compute", "din", DIN, "compute:att.fc1.act:10"),
    ]


@dataclass
class Outcome:
    case: Case
    trial: int
    verdict: Verdict
    seconds: float
    single: Verdict | None = None  # from the first run of each side alone

    @property
    def correct(self) -> bool:
        return self.verdict.kind == self.case.truth


def engine_reports(case: Case, runs: int, repeats: int, threads: int) -> tuple[list[dict], list[dict]]:
    from engine.benchmark import RunOptions, run_benchmark

    before, after = [], []
    for _ in range(runs):
        before.append(run_benchmark(case.model, case.before,
                                    RunOptions(repeats=repeats, threads=threads)).report.to_dict())
        after.append(run_benchmark(case.model, case.params_after,
                                   RunOptions(repeats=repeats, threads=threads, inject=case.inject)).report.to_dict())
    return before, after


def saved_path(root: Path, index: int, trial: int) -> Path:
    return root / f"case{index:02d}-trial{trial}.json"


def classify_reports(before: Sequence[dict], after: Sequence[dict]) -> Verdict:
    return classify_change([run_obs_from_report(r) for r in before], [run_obs_from_report(r) for r in after])


def layer_note(case: Case, verdict: Verdict) -> str:
    target = next((v for v in verdict.layers if v.layer == case.layer), None)
    top = verdict.layers[0] if verdict.layers else None
    parts = []
    if case.layer:
        parts.append(f"{case.layer}: " + (f"{target.kind} {target.rel_change:+.0%} share {target.share:.2f}"
                                          if target and target.rel_change is not None else
                                          f"{target.kind} (new)" if target else "not moved"))
    if top is not None and top is not target:
        parts.append(f"top {top.layer}: {top.kind} share {top.share:.2f}")
    e2e = verdict.evidence.get("end_to_end_rel_change")
    if e2e is not None:
        parts.append(f"e2e {e2e:+.1%}")
    return "; ".join(parts)


def confusion(outcomes: Sequence[Outcome]) -> str:
    labels = [k for k in KINDS if any(o.case.truth == k or o.verdict.kind == k for o in outcomes)]
    counts = Counter((o.case.truth, o.verdict.kind) for o in outcomes)
    w = max(10, *(len(k) for k in labels))
    corner = "truth/said"
    lines = [f"{corner:<{w}} " + " ".join(f"{k:>{w}}" for k in labels) + f" {'recall':>7}"]
    for t in labels:
        row = [counts[(t, p)] for p in labels]
        total = sum(row)
        recall = f"{counts[(t, t)] / total:7.0%}" if total else f"{'-':>7}"
        lines.append(f"{t:<{w}} " + " ".join(f"{c:>{w}}" for c in row) + f" {recall}")
    return "\n".join(lines)


def accuracy(outcomes: Sequence[Outcome]) -> str:
    right = sum(o.correct for o in outcomes)
    return f"{right}/{len(outcomes)} = {right / len(outcomes):.1%}" if outcomes else "n/a"


def speed(layers: int = 100, runs: int = 5, repeats: int = 30) -> float:
    """Median seconds of one classify_change over `runs` + `runs` synthetic runs of `layers` layers."""
    from regressions.classify import LayerObs, RunObs

    def run(k: int, scale: float) -> RunObs:
        obs = []
        for i in range(layers):
            t = 1e-5 * (i + 1) * scale * (1 + 0.01 * ((k * 7 + i) % 5 - 2))
            obs.append(LayerObs(f"l{i}", "Linear", 10**6 * (i + 1), 10**5 * (i + 1), t, p25=t * 1.01, p75=t * 1.1,
                                min=t * 0.98, n=10))
        total = sum(o.median for o in obs)
        return RunObs(tuple(obs), total, 100.0, 20.0, total * 0.99, total * 1.05, total * 0.98, 10)

    before, after = [run(k, 1.0) for k in range(runs)], [run(k, 1.3) for k in range(runs)]
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        classify_change(before, after)
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int_at_least(1), default=2, help="independent before/after pairs per case (default 2)")
    ap.add_argument("--runs", type=int_at_least(1), default=3, help="engine runs per side of a change (default 3)")
    ap.add_argument("--repeats", type=int_at_least(1), default=10, help="timed passes per run (default 10)")
    ap.add_argument("--threads", type=int_at_least(1), default=1, help="BLAS threads (default 1, see the docstring)")
    ap.add_argument("--only", help="run only cases whose name contains this text")
    ap.add_argument("--speed", action="store_true", help="time one classification of a 100-layer model and exit")
    io = ap.add_mutually_exclusive_group()
    io.add_argument("--save", type=Path, help="write every case's reports as JSON under this folder")
    io.add_argument("--load", type=Path, help="classify reports saved by --save instead of running the engine")
    args = ap.parse_args(argv)
    if args.speed:
        print(f"classify_change, 100 layers, 5 + 5 runs: {speed() * 1e3:.2f} ms (median of 30; "
              f"load average {os.getloadavg()[0]:.1f})")
        return 0

    all_cases = cases()
    selected = [(i, c) for i, c in enumerate(all_cases) if not args.only or args.only in c.name]
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
    print(f"{len(selected)} cases x {args.trials} trials, {args.runs} runs per side, {args.repeats} repeats, "
          f"{args.threads} BLAS thread(s); {'saved reports from ' + str(args.load) if args.load else 'real engine runs'}; "
          f"load average {os.getloadavg()[0]:.1f}")
    outcomes: list[Outcome] = []
    t_all = time.perf_counter()
    for index, case in selected:
        for trial in range(args.trials):
            t0 = time.perf_counter()
            if args.load:
                path = saved_path(args.load, index, trial)
                try:
                    doc = json.loads(path.read_text())
                except (OSError, ValueError) as e:
                    print(f"{path}: cannot read saved reports ({e}); save them first with --save", file=sys.stderr)
                    return 2
                if doc["case"] != case.name:
                    print(f"{path}: holds case {doc['case']!r}, not {case.name!r}: saved by another case list",
                          file=sys.stderr)
                    return 2
                before, after = doc["before"], doc["after"]
            else:
                before, after = engine_reports(case, args.runs, args.repeats, args.threads)
            verdict = classify_reports(before, after)
            outcome = Outcome(case, trial, verdict, time.perf_counter() - t0, classify_reports(before[:1], after[:1]))
            outcomes.append(outcome)
            if args.save:
                path = saved_path(args.save, index, trial)
                path.write_text(json.dumps({"case": case.name, "truth": case.truth, "group": case.group,
                                            "before": before, "after": after}))
            mark = "ok " if outcome.correct else "BAD"
            print(f"{mark} {case.group:<8} {case.name:<44} truth {case.truth:<9} said {verdict.kind:<9} "
                  f"{outcome.seconds:5.1f}s  {layer_note(case, verdict)}", flush=True)

    decidable = [o for o in outcomes if o.case.group != "crossed"]
    crossed = [o for o in outcomes if o.case.group == "crossed"]
    print(f"\nroofline-decidable cases (matched injection, model changes, overhead, no change): "
          f"{len(decidable)} verdicts")
    print(confusion(decidable))
    print(f"accuracy {accuracy(decidable)} (goal {GOAL:.0%})")
    for group in ("matched", "work", "overhead", "null"):
        part = [o for o in decidable if o.case.group == group]
        if part:
            print(f"  {group:<8} {accuracy(part)}")
    if crossed:
        print(f"\ncrossed injections (against the layer's bound), labelled with the injected kind: "
              f"{accuracy(crossed)}")
        print(confusion(crossed))
        print(f"all {len(outcomes)} verdicts: {accuracy(outcomes)}")
    single = [Outcome(o.case, o.trial, o.single, 0.0) for o in decidable if o.single is not None]
    if single:
        print(f"\nthe same roofline-decidable cases from ONE run per side (the first of each group): "
              f"{accuracy(single)}")
        print(confusion(single))
    print(f"\ntotal {time.perf_counter() - t_all:.0f} s; load average now {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
