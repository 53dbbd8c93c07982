"""A real git repository of the engine for whole-loop tests: `count` commits,
the one at `slow_at` making every fully connected layer 50 ms slower (a wait
in the Linear kernel: a slowdown far above this shared machine's noise, where
the same mlp run was seen to vary 100-fold in wall time), the others changing
nothing the engine reads."""
import shutil

from tests.agents.test_commit_jobs import git
from tests.conftest import REPO

MATMUL = "        y = matmul(inputs[0], inputs[1])\n"
SLOWER_MATMUL = "        __import__('time').sleep(0.05)\n" + MATMUL
SLOW_SUBJECT = "Linear: wait 50 ms before the matmul"


def engine_repo(repo, count: int, slow_at: int) -> list[str]:
    """The commits' SHAs, oldest first."""
    shutil.copytree(f"{REPO}/engine", repo / "engine", ignore=shutil.ignore_patterns("__pycache__"))
    git(repo, "init", "-q")
    shas = []
    for i in range(count):
        subject = f"commit {i}"
        if i == slow_at:
            linear = repo / "engine" / "ops" / "linear.py"
            assert MATMUL in linear.read_text()
            linear.write_text(linear.read_text().replace(MATMUL, SLOWER_MATMUL))
            subject = SLOW_SUBJECT
        else:
            (repo / f"notes{i}.txt").write_text(f"{i}\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", subject)
        shas.append(git(repo, "rev-parse", "HEAD"))
    return shas
