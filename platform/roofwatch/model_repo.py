"""A model-under-test project's repository, made locally: commits of an ONNX
model built with onnx.helper (engine.onnx_io.mlp_file), one of which doubles
a hidden layer's width; the others change only a notes file. `manage.py
demo` makes one for its model-under-test project, and the tests theirs."""
from __future__ import annotations

import subprocess
from pathlib import Path

from engine.onnx_io.mlp_file import write_mlp_onnx

MODEL_PATH = "models/ranker.onnx"
WIDTHS = (256, 1024, 1024, 64)  # input, two hidden layers, output
WIDENED = 2  # the hidden layer whose width doubles: fc2 computes it (and fc3 reads it)
WIDENED_LAYER = f"fc{WIDENED}"
_GIT = ("git", "-c", "user.name=roofwatch demo", "-c", "user.email=demo@roofwatch.invalid",
        "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false")


def git(repo: Path, *args: str) -> str:
    done = subprocess.run([*_GIT, "-C", str(repo), *args], capture_output=True, text=True, check=False,
                          stdin=subprocess.DEVNULL, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} in {repo} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def widths_at(index: int, widen_at: int) -> list[int]:
    widths = list(WIDTHS)
    if index >= widen_at:
        widths[WIDENED] *= 2
    return widths


def make_model_repo(repo: Path, count: int, widen_at: int) -> list[str]:
    """A new repository at `repo` of `count` commits (0-based `widen_at`
    doubles hidden layer WIDENED); returns their SHAs, oldest first."""
    repo.mkdir(parents=True, exist_ok=True)
    git(repo, "init", "-q")
    shas = []
    for i in range(count):
        write_mlp_onnx(repo / MODEL_PATH, widths_at(i, widen_at))  # seeded: unchanged widths, same bytes
        with open(repo / "NOTES.md", "a") as notes:
            notes.write(f"- change {i}\n")
        subject = (f"{WIDENED_LAYER}: twice as wide ({WIDTHS[WIDENED]} -> {2 * WIDTHS[WIDENED]})" if i == widen_at
                   else f"notes {i}")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", subject)
        shas.append(git(repo, "rev-parse", "HEAD"))
    return shas
