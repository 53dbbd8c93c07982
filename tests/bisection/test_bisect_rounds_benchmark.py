"""benchmarks/bisect_rounds.py --smoke runs the bisect search on real engine
runs (an injected slowdown from the culprit on) to its end and prints its
table. Whether each trial names the right culprit depends on this machine's
noise at that moment, so that is the benchmark's figure, not this test's
assertion (the search's correctness is tested on seeded data in test_search.py)."""
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_smoke_run_ends_every_trial_and_prints_the_table():
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bisect_rounds.py"), "--smoke"],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| N | trials | found right | rounds median / max | steps median / max |" in done.stdout
    assert re.search(r"^\| 16 \| 2 \| [0-2]/2 \| .* \| 6 \| [\d.]+ / [\d.]+ \|$", done.stdout, re.M), done.stdout
    trials = re.findall(r"^N=16 trial \d: culprit (\d+), found \[([\d, ]*)\], (right|WRONG), (\d+) rounds, (\d+) steps",
                        done.stdout, re.M)
    assert len(trials) == 2, done.stdout
    for culprit, found, verdict, rounds, steps in trials:
        assert 1 <= int(culprit) <= 15 and int(rounds) >= int(steps) >= 2
        assert (verdict == "right") == ([int(x) for x in found.split(", ") if x] == [int(culprit)])
