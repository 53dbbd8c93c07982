import subprocess
import sys
from pathlib import Path

PLATFORM = Path(__file__).resolve().parents[2] / "platform"


def test_it_imports_and_runs_without_django():
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from regressions.changepoints import detect_changes;"
        "assert len(detect_changes([1.0] * 20 + [2.0] * 20)) == 1;"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'scipy', 'celery'));"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code, str(PLATFORM)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
