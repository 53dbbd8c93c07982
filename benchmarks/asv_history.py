"""A generated asv results directory of a given shape (benchmarks/asv_import.py
measures the import on it; tests import small ones): asv 0.6's format version 2,
as `asv run` writes it, seeded so the same shape gives the same files.

Per file (one commit in one environment on one machine): PLAIN time benchmarks
plus PARAMETERIZED ones with 2 x 2 param combinations, so results_per_file =
PLAIN + 4 * PARAMETERIZED. Times are noisy around a per-benchmark base; a few
benchmarks step up by 30% halfway (something for detection to find), one
changes its version halfway, and about one result in 200 is null (failed).
"""
from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

PARAM_COMBINATIONS = 4
PARAMS = [["10", "100"], ["'list'", "'tuple'"]]
PARAM_NAMES = ["n", "kind"]
STEP_EVERY = 10  # every 10th benchmark gets a 30% step halfway
T0_MS = 1_600_000_000_000


def shape(results_per_file: int) -> tuple[int, int]:
    """(plain, parameterized) benchmarks giving `results_per_file` results per file."""
    parameterized = results_per_file // (2 * PARAM_COMBINATIONS)
    return results_per_file - PARAM_COMBINATIONS * parameterized, parameterized


def write_history(root: Path, files: int, results_per_file: int, machines: int = 2, envs: int = 2,
                  seed: int = 0, project: str = "generated") -> Path:
    """Write the results directory root/results (with asv.conf.json beside it); returns it."""
    rng = random.Random(seed)
    plain, parameterized = shape(results_per_file)
    names = [f"bench_gen.time_plain_{i:03d}" for i in range(plain)]
    names += [f"bench_gen.TimeParam_{i:03d}.time_it" for i in range(parameterized)]
    results = root / "results"
    results.mkdir(parents=True, exist_ok=True)
    (root / "asv.conf.json").write_text(
        '// written by benchmarks/asv_history.py\n{\n  "version": 1,\n  "project": "%s", // comments, as asv allows\n'
        '  "results_dir": "results",\n}\n' % project
    )
    benchmarks = {"version": 2}
    for name in names:
        param = ".TimeParam_" in name
        benchmarks[name] = {"name": name, "type": "time", "unit": "seconds", "version": "v1",
                            "params": PARAMS if param else [], "param_names": PARAM_NAMES if param else []}
    (results / "benchmarks.json").write_text(json.dumps(benchmarks))
    base = {name: 10 ** rng.uniform(-6, -2) for name in names}
    env_names = [f"virtualenv-py3.{10 + e}" for e in range(envs)]
    commits = -(-files // (machines * envs))
    hashes = [f"{rng.getrandbits(160):040x}" for _ in range(commits)]  # the same commits on every machine
    written = 0
    for m in range(machines):
        machine = f"machine-{m}"
        (results / machine).mkdir(exist_ok=True)
        (results / machine / "machine.json").write_text(json.dumps({
            "machine": machine, "cpu": "Generated CPU", "num_cpu": "8", "ram": "16GB", "os": "Linux", "arch": "x86_64",
            "version": 1}))
        for c, (e, env) in itertools.product(range(commits), enumerate(env_names)):
            if written == files:
                break
            commit = hashes[c]
            rows = {}
            for b, name in enumerate(names):
                step = 1.3 if b % STEP_EVERY == 0 and c >= commits // 2 else 1.0
                count = PARAM_COMBINATIONS if ".TimeParam_" in name else 1
                values = [None if rng.random() < 0.005 else base[name] * step * (1 + 0.1 * e) * rng.gauss(1, 0.01)
                          for _ in range(count)]
                q25 = [None if v is None else v * 0.99 for v in values]
                q75 = [None if v is None else v * 1.01 for v in values]
                version = "v2" if b == 1 and c >= commits // 2 else "v1"
                rows[name] = [values, PARAMS if count > 1 else [], version, 1000 + c, 0.1, q25, q75, [10] * count]
            data = {
                "commit_hash": commit, "env_name": env, "date": T0_MS + c * 3_600_000, "python": f"3.{10 + e}",
                "requirements": {}, "env_vars": {},
                "result_columns": ["result", "params", "version", "started_at", "duration", "stats_q_25",
                                   "stats_q_75", "stats_repeat"],
                "results": rows, "durations": {}, "version": 2,
                "params": {"machine": machine, "python": f"3.{10 + e}"},
            }
            (results / machine / f"{commit[:8]}-{env}.json").write_text(json.dumps(data))
            written += 1
    return results
