"""A commit job runs that commit's engine, from a git worktree of a real repository."""
import json
import shutil
import subprocess
import time

from agents.register import machine_fingerprint
from agents.state import AgentState

from .conftest import write_agent_config
from .daemon_helpers import FAST, run_agent_until
from tests.conftest import REPO

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"]
OLD_SIZES = "[512, 1024, 1024, 512, 256]"
NEW_SIZES = "[512, 2048, 1024, 512, 256]"


def git(repo, *args):
    return subprocess.run([*GIT, "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


def make_repo(path):
    """A repository holding a copy of the engine, then a commit that doubles the mlp's first hidden layer."""
    shutil.copytree(f"{REPO}/engine", path / "engine", ignore=shutil.ignore_patterns("__pycache__"))
    git(path, "init", "-q")
    git(path, "add", "engine")
    git(path, "commit", "-q", "-m", "engine as it is")
    first = git(path, "rev-parse", "HEAD")
    mlp = path / "engine" / "models" / "mlp.py"
    assert OLD_SIZES in mlp.read_text()
    mlp.write_text(mlp.read_text().replace(OLD_SIZES, NEW_SIZES))
    git(path, "commit", "-q", "-am", "wider first hidden layer")
    return first, git(path, "rev-parse", "HEAD")


def test_commit_jobs_measure_each_commits_own_engine_in_a_worktree_removed_afterwards(ingest, tmp_path, engine_env):
    repo = tmp_path / "repo"
    repo.mkdir()
    first, second = make_repo(repo)
    spec = dict(kind="commit", repository="https://example.com/engine.git", warmup=0, repeats=2,
                benchmark={"model": "mlp", "params": {"batch": 8}})
    jobs = [ingest.add_job(commit=first, **spec), ingest.add_job(commit=second, **spec)]
    spool = tmp_path / "spool"
    spool.mkdir()
    AgentState(spool).update(peaks_fingerprint=machine_fingerprint(), peaks_measured_at=time.time())
    cfg = write_agent_config(tmp_path / "agent.toml", ingest.url, spool, engine=[],
                             extra=f'{FAST}[repository]\npath = "{repo}"\n')
    run_agent_until(cfg, lambda: all(ingest.jobs[j].status != "queued" and ingest.jobs[j].completions for j in jobs),
                    timeout=120)
    assert [ingest.jobs[j].status for j in jobs] == ["done", "done"], [ingest.jobs[j].completions for j in jobs]
    by_commit = {}
    for run_id, body in ingest.runs.values():
        doc = json.loads(body)
        by_commit[doc["source"]["commit"]] = doc
    assert set(by_commit) == {first, second}
    assert by_commit[second]["source"]["repository"] == "https://example.com/engine.git"
    fc0 = {c: doc["layers"][0] for c, doc in by_commit.items()}
    assert fc0[second]["flops"] == 2 * fc0[first]["flops"]  # twice the output width
    assert by_commit[first]["benchmark"]["model_version"] != by_commit[second]["benchmark"]["model_version"]
    assert git(repo, "worktree", "list").count("\n") == 0  # only the main checkout is left
    assert not list(tmp_path.glob("**/roofwatch-worktree-*"))


def test_a_commit_the_repository_lacks_fails_the_job_with_a_clear_error(ingest, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    make_repo(repo)
    job = ingest.add_job(kind="commit", commit="0" * 40)
    cfg = write_agent_config(tmp_path / "agent.toml", ingest.url, tmp_path / "spool",
                             extra=f'{FAST}[repository]\npath = "{repo}"\n')
    run_agent_until(cfg, lambda: ingest.jobs[job].status == "failed")
    assert f"commit {'0' * 40} is not in the repository at {repo}" in ingest.jobs[job].completions[0]["error"]
