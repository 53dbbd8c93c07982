"""benchmarks/bisect_rounds.py --smoke: the bisect search driven by real engine
runs (an injected slowdown from the culprit on) names every trial's culprit
and prints its table. Asserts no speed."""
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_smoke_run_finds_every_culprit_and_prints_the_table():
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bisect_rounds.py"), "--smoke"],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| N | trials | found right | rounds median / max | steps median / max |" in done.stdout
    row = re.search(r"^\| 16 \| 2 \| (\d+)/2 \| .* \| 6 \| [\d.]+ / [\d.]+ \|$", done.stdout, re.M)
    assert row, done.stdout
    assert row.group(1) == "2", done.stdout  # every trial named its culprit
    assert len(re.findall(r"^N=16 trial \d: culprit \d+, found \[\d+\], right, ", done.stdout, re.M)) == 2
