"""A stand-in for `python -m engine.cli` in agent tests: fast, and scriptable
through the environment.

    run MODEL --json PATH [...]   writes a valid report (tests.report_factory)
    peaks --remeasure             prints two lines

FAKE_ENGINE_SLEEP=S       sleep S seconds before writing the report
FAKE_ENGINE_LEDGER=FILE   append the report's idempotency_key to FILE once written
FAKE_ENGINE_EXIT=N        write "boom" lines to stderr and exit N instead
FAKE_ENGINE_ARGV=FILE     append this run's argv, CPU affinity and parent-death signal as a JSON line to FILE
FAKE_ENGINE_SLEEP_MAX=S   sleep a random time up to S seconds (after FAKE_ENGINE_SLEEP)

A file-size limit (RLIMIT_FSIZE) inherited from a test's "full disk" agent is
lifted here: the engine itself is not the subject of those tests.
"""
import json
import os
import random
import resource
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from engine.atomic_file import write_text_atomic  # noqa: E402
from tests import report_factory  # noqa: E402


def _pdeathsig():
    """The signal this process gets when its parent dies (prctl PR_GET_PDEATHSIG), 0 for none."""
    import ctypes

    sig = ctypes.c_int(0)
    ctypes.CDLL(None).prctl(2, ctypes.byref(sig))
    return sig.value


def main(argv):
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
    if os.environ.get("FAKE_ENGINE_ARGV"):
        with open(os.environ["FAKE_ENGINE_ARGV"], "a") as f:
            f.write(json.dumps({"argv": argv, "cpus": sorted(os.sched_getaffinity(0)), "cwd": os.getcwd(),
                                "pdeathsig": _pdeathsig()}) + "\n")
    if argv[:1] == ["peaks"]:
        print("peak compute 100.0 GFLOP/s\npeak bandwidth 10.0 GB/s")
        return 0
    if os.environ.get("FAKE_ENGINE_EXIT"):
        sys.stderr.write("noise\n" * 50 + "boom: the kernel crashed\n")
        return int(os.environ["FAKE_ENGINE_EXIT"])
    time.sleep(float(os.environ.get("FAKE_ENGINE_SLEEP", "0")))
    time.sleep(random.uniform(0, float(os.environ.get("FAKE_ENGINE_SLEEP_MAX", "0"))))
    model, path = argv[1], argv[argv.index("--json") + 1]
    key = str(uuid.uuid4())
    report = report_factory.make_report(model=model, idempotency_key=key)
    write_text_atomic(path, json.dumps(report) + "\n")
    if os.environ.get("FAKE_ENGINE_LEDGER"):
        with open(os.environ["FAKE_ENGINE_LEDGER"], "a") as f:
            f.write(key + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
