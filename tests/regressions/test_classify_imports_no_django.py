"""classify.py is usable with nothing of the platform configured: numpy only."""
import subprocess
import sys
from pathlib import Path

PLATFORM = Path(__file__).resolve().parents[2] / "platform"


def test_it_imports_and_classifies_without_django():
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from regressions.classify import LayerObs, RunObs, classify_change;"
        "run = lambda t: RunObs((LayerObs('fc', 'Linear', 10**8, 10**6, t),), t, 100.0, 20.0);"
        "assert classify_change([run(1e-3)], [run(2e-3)]).kind == 'compute';"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'celery', 'engine', 'scipy'));"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code, str(PLATFORM)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
