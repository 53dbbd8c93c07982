"""The schemathesis conformance run of the API (tests/platform/test_api_schemathesis.py)
at SCALE times its examples, for a longer search than CI's, with its figures.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/NAME \\
        .venv/bin/python benchmarks/api_conformance.py [--scale 10]

It runs the test module under pytest with ROOFWATCH_SCHEMATHESIS_SCALE=SCALE
(examples per operation, caller and generation mode: 8 x SCALE; generated run
reports that must be ingested with 201: 1,000 x SCALE; stateful runs: 15 x
SCALE) and prints, per test (anonymous, machine, signed-in user, the uploads,
the stateful runs), the requests sent, the check failures, the 5xx answers and
the uploads answered 201, then the wall time and the load average before and
after. PostgreSQL only, like the test (pytest-django makes test_NAME).
Hypothesis is derandomized: a run at one scale repeats; another scale searches
further.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SUMMARY = re.compile(r"\d+ requests over \d+ operations; .*")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=10, help="times the CI run's examples (default 10)")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        parser.error("set DATABASE_URL to a PostgreSQL server (the run needs PostgreSQL)")
    env = {**os.environ, "ROOFWATCH_SCHEMATHESIS_SCALE": str(args.scale), "ROOFWATCH_REQUIRE_SERVICES": "1"}
    load_before = os.getloadavg()
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/platform/test_api_schemathesis.py", "-p", "no:randomly",
         "-p", "no:logging", "-s", "-q", "-W", "ignore", "--tb=line"],
        cwd=REPO, env=env, capture_output=True, text=True,
    )
    elapsed = time.monotonic() - started
    names = re.findall(r"test_api_schemathesis\.py::(\S+)", result.stdout)
    summaries = SUMMARY.findall(result.stdout)
    print(f"scale {args.scale}: examples per operation, caller and mode {8 * args.scale}; "
          f"uploads required {1000 * args.scale}")
    for line in summaries:
        print(" ", line)
    outcome = [line for line in result.stdout.splitlines() if re.search(r"\d+ (passed|failed)", line)]
    print(outcome[-1] if outcome else result.stdout[-2000:])
    for name in names:
        print("  FAILED", name)
    if result.returncode:  # the one-line tracebacks say where; the whole output says why (a 500's own traceback)
        for line in result.stdout.splitlines():
            if re.match(r"\S+\.py:\d+: ", line):
                print("   ", line[:500])
        with tempfile.NamedTemporaryFile("w", prefix="api_conformance-", suffix=".log", delete=False) as log:
            log.write(result.stdout + result.stderr)
        print(f"  the whole pytest output: {log.name}")
    print(f"wall {elapsed:.0f} s; load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}")
    return result.returncode


if __name__ == "__main__":
    raise SystemExit(main())
