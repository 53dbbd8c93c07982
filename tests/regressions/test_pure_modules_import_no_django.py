"""The pure algorithms of regressions are usable with nothing of the platform
configured: changepoints.py, drift.py and classify.py import numpy only."""
import subprocess
import sys
from pathlib import Path

PLATFORM = Path(__file__).resolve().parents[2] / "platform"


def run_alone(statements: str, forbidden: tuple[str, ...]) -> subprocess.CompletedProcess:
    """Run `statements` in a fresh interpreter with only platform/ on the path; it
    exits 1 (printing them) if any module of a `forbidden` package got imported."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);" + statements
        + f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {forbidden!r});"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    return subprocess.run([sys.executable, "-c", code, str(PLATFORM)], capture_output=True, text=True)


def test_changepoints_imports_and_runs_without_django():
    done = run_alone(
        "from regressions.changepoints import detect_changes;"
        "assert len(detect_changes([1.0] * 20 + [2.0] * 20)) == 1;",
        ("django", "scipy", "celery"),
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_drift_imports_and_runs_without_django():
    done = run_alone(
        "import numpy as np; from regressions.drift import detect_drifts;"
        "v = np.r_[np.ones(60), np.linspace(1, 1.1, 30), np.full(60, 1.1)] + 0.002 * np.sin(np.arange(150) * 2.1);"
        "assert len(detect_drifts(v, min_rel_change=0.02)) == 1;",
        ("django", "scipy", "celery"),
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_classify_imports_and_classifies_without_django():
    done = run_alone(
        "from regressions.classify import LayerObs, RunObs, classify_change;"
        "run = lambda t: RunObs((LayerObs('fc', 'Linear', 10**8, 10**6, t),), t, 100.0, 20.0);"
        "assert classify_change([run(1e-3)], [run(2e-3)]).kind == 'compute';",
        ("django", "celery", "engine", "scipy"),
    )
    assert done.returncode == 0, done.stdout + done.stderr
