"""A "commits" job lists a range of a real repository (first parents, oldest
first); a "bisect" job is measured like a commit job and its report says
purpose "bisect"."""
import json
import time

import pytest

from agents.jobs_client import Job
from agents.outbox import Outbox
from agents.register import machine_fingerprint
from agents.spool import Spool
from agents.state import AgentState
from agents.worktree import WorktreeError, list_commits

from .conftest import write_agent_config
from .daemon_helpers import FAST, run_agent_until
from .test_commit_jobs import git, make_repo


def commit(repo, name, message):
    (repo / name).write_text(message)
    git(repo, "add", name)
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def history(tmp_path):
    """main: base - one - merge(side) - three; side branches off at base with two commits."""
    repo = tmp_path / "history"
    repo.mkdir()
    git(repo, "init", "-q")
    base = commit(repo, "a", "base")
    one = commit(repo, "b", "one")
    git(repo, "checkout", "-q", "-b", "side", base)
    side1 = commit(repo, "s1", "side one")
    side2 = commit(repo, "s2", "side two")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-ff", "-m", "merge side", "side")
    merge = git(repo, "rev-parse", "HEAD")
    three = commit(repo, "c", "three")
    return repo, {"base": base, "one": one, "side1": side1, "side2": side2, "merge": merge, "three": three}


def test_list_commits_gives_first_parents_oldest_first_without_base(history):
    repo, c = history
    listed = list_commits(repo, c["base"], c["three"])
    assert [e["sha"] for e in listed] == [c["one"], c["merge"], c["three"]]  # the side commits are not first parents
    assert [e["subject"] for e in listed] == ["one", "merge side", "three"]
    assert listed[0]["author"] == "t" and listed[0]["time"] == git(repo, "show", "-s", "--format=%cI", c["one"])
    assert set(listed[0]) == {"sha", "subject", "author", "time"}
    assert [e["sha"] for e in list_commits(repo, c["one"][:10], c["merge"])] == [c["merge"]]


def test_list_commits_refuses_a_base_that_is_not_an_ancestor(history):
    repo, c = history
    with pytest.raises(WorktreeError, match=f"base commit {c['side1']} is not an ancestor of head commit {c['one']}"):
        list_commits(repo, c["side1"], c["one"])
    with pytest.raises(WorktreeError, match="not on its first-parent history"):
        list_commits(repo, c["side1"], c["three"])  # an ancestor, through the merge's second parent
    with pytest.raises(WorktreeError, match=f"commit {'0' * 40} is not in the repository"):
        list_commits(repo, "0" * 40, c["one"])
    with pytest.raises(WorktreeError, match="base commit: expected a hex commit id"):
        list_commits(repo, "", c["one"])


def test_a_commits_completion_waits_in_the_outbox_as_a_result(tmp_path):
    outbox = Outbox(Spool(tmp_path / "spool"))
    outbox.put(7, {"lease": "L", "result": {"commits": []}})
    assert [e for _, e in outbox.entries()] == [{"job": 7, "lease": "L", "result": {"commits": []}}]
    job = Job.from_json({"id": 7, "lease": "L", "kind": "commits", "benchmark": {"model": ""},
                         "base_commit": "ab" * 20, "commit": "cd" * 20})
    assert (job.kind, job.base_commit, job.commit) == ("commits", "ab" * 20, "cd" * 20)


def test_the_daemon_answers_a_commits_job_with_its_list(ingest, history, tmp_path):
    repo, c = history
    job = ingest.add_job(kind="commits", base_commit=c["base"], commit=c["three"], benchmark={"model": ""})
    bad = ingest.add_job(kind="commits", base_commit=c["side1"], commit=c["one"], benchmark={"model": ""})
    cfg = write_agent_config(tmp_path / "agent.toml", ingest.url, tmp_path / "spool",
                             extra=f'{FAST}[repository]\npath = "{repo}"\n')
    run_agent_until(cfg, lambda: all(ingest.jobs[j].completions for j in (job, bad)))
    answer = ingest.jobs[job].completions[0]
    assert [e["sha"] for e in answer["result"]["commits"]] == [c["one"], c["merge"], c["three"]]
    assert "run" not in answer and "error" not in answer
    assert "is not an ancestor" in ingest.jobs[bad].completions[0]["error"]
    assert ingest.runs == {}  # no engine ran


def test_a_commits_job_without_a_repository_fails_saying_so(ingest, tmp_path):
    job = ingest.add_job(kind="commits", base_commit="a" * 40, commit="b" * 40, benchmark={"model": ""})
    cfg = write_agent_config(tmp_path / "agent.toml", ingest.url, tmp_path / "spool", extra=FAST)
    run_agent_until(cfg, lambda: ingest.jobs[job].completions)
    assert "a commits job needs [repository] path" in ingest.jobs[job].completions[0]["error"]


def test_a_bisect_job_measures_its_commit_and_its_report_says_bisect(ingest, tmp_path, engine_env):
    repo = tmp_path / "repo"
    repo.mkdir()
    first, second = make_repo(repo)
    spec = dict(repository="https://example.com/engine.git", warmup=0, repeats=2,
                benchmark={"model": "mlp", "params": {"batch": 8}})
    bisect = ingest.add_job(kind="bisect", commit=first, **spec)
    fresh = ingest.add_job(kind="commit", commit=second, **spec)
    spool = tmp_path / "spool"
    spool.mkdir()
    AgentState(spool).update(peaks_fingerprint=machine_fingerprint(), peaks_measured_at=time.time())
    cfg = write_agent_config(tmp_path / "agent.toml", ingest.url, spool, engine=[],
                             extra=f'{FAST}[repository]\npath = "{repo}"\n')
    run_agent_until(cfg, lambda: all(ingest.jobs[j].status == "done" for j in (bisect, fresh)), timeout=120)
    by_commit = {json.loads(body)["source"]["commit"]: json.loads(body) for _, body in ingest.runs.values()}
    assert by_commit[first]["purpose"] == "bisect"
    assert by_commit[second].get("purpose", "") == ""  # an ordinary commit run
    assert by_commit[first]["conditions"]["quiet"] in (True, False)
