"""A model-under-test project's commit jobs: this agent's engine runs the ONNX
file as it is at each commit, read in a worktree of the project's repository
(never copied into the spool); the report records the kind and the engine's
version. A file missing at a commit, or a Git LFS pointer in its place, fails
that job naming the commit and the path."""
import time

from agents.register import machine_fingerprint
from agents.state import AgentState
from engine.onnx_io.mlp_file import write_mlp_onnx

from .conftest import write_agent_config
from .daemon_helpers import FAST, run_agent_until
from .test_commit_jobs import git

URL = "https://example.com/ranker.git"
PATH = "models/ranker.onnx"
LFS_POINTER = ("version https://git-lfs.github.com/spec/v1\n"
               "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n")


def model_repo(path) -> list[str]:
    """Commits: the model; its second hidden layer twice as wide; the file removed; an LFS pointer."""
    (path / "models").mkdir(parents=True)
    git(path, "init", "-q")
    shas = []
    for subject, change in (("ranker", lambda: write_mlp_onnx(path / PATH, [32, 64, 64, 8])),
                            ("wider fc2", lambda: write_mlp_onnx(path / PATH, [32, 64, 128, 8])),
                            ("remove the model", lambda: (path / PATH).unlink()),
                            ("model in LFS", lambda: (path / PATH).write_text(LFS_POINTER))):
        change()
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", subject)
        shas.append(git(path, "rev-parse", "HEAD"))
    return shas


def test_the_agents_engine_runs_the_model_at_each_commit_and_says_so(ingest, tmp_path, engine_env):
    repo = tmp_path / "repo"
    shas = model_repo(repo)
    spec = dict(kind="commit", repository=URL, warmup=0, repeats=2, under_test="model",
                benchmark={"model": "onnx", "params": {"path": PATH, "batch": 4}})
    jobs = [ingest.add_job(commit=sha, **spec) for sha in shas]
    spool = tmp_path / "spool"
    spool.mkdir()
    AgentState(spool).update(peaks_fingerprint=machine_fingerprint(), peaks_measured_at=time.time())
    cfg = write_agent_config(tmp_path / "agent.toml", ingest.url, spool, engine=[],
                             extra=f'{FAST}[repository]\npath = "{repo}"\n')
    run_agent_until(cfg, lambda: all(ingest.jobs[j].completions for j in jobs), timeout=180)
    assert [ingest.jobs[j].status for j in jobs] == ["done", "done", "failed", "failed"], [
        ingest.jobs[j].completions for j in jobs]
    runs = {doc["source"]["commit"]: doc for doc in ingest.stored_bodies()}
    assert set(runs) == set(shas[:2])
    for doc in runs.values():
        assert doc["benchmark"]["model"] == "onnx" and doc["benchmark"]["params"] == {"path": PATH, "batch": 4}
        assert doc["source"]["under_test"] == "model" and doc["source"]["repository"] == URL
        assert doc["source"]["engine_version"].startswith("roofwatch ")
        assert doc["source"]["branch"] == "" and doc["source"]["commit_time"]  # of the project's commit
    before, after = (runs[sha] for sha in shas[:2])
    assert before["benchmark"]["model_version"] != after["benchmark"]["model_version"]
    flops = {sha: {ly["name"]: ly["flops"] for ly in runs[sha]["layers"]} for sha in shas[:2]}
    assert flops[shas[1]]["fc2"] == 2 * flops[shas[0]]["fc2"] and flops[shas[1]]["fc1"] == flops[shas[0]]["fc1"]
    missing = ingest.jobs[jobs[2]].completions[0]["error"]
    assert f"{PATH}: no such file at commit {shas[2]}" in missing
    lfs = ingest.jobs[jobs[3]].completions[0]["error"]
    assert f"{PATH} at commit {shas[3]} is a Git LFS pointer" in lfs and "git lfs pull" in lfs
    assert not list(spool.rglob("*.onnx"))  # read in the worktree, never copied
    assert not list(tmp_path.glob("**/roofwatch-worktree-*"))


def test_a_zoo_model_in_a_model_under_test_job_is_refused(ingest, tmp_path):
    repo = tmp_path / "repo"
    shas = model_repo(repo)
    job = ingest.add_job(kind="commit", repository=URL, commit=shas[0], under_test="model")
    cfg = write_agent_config(tmp_path / "agent.toml", ingest.url, tmp_path / "spool",
                             extra=f'{FAST}[repository]\npath = "{repo}"\n')
    run_agent_until(cfg, lambda: ingest.jobs[job].status == "failed")
    assert "a model-under-test project measures ONNX files" in ingest.jobs[job].completions[0]["error"]


def test_an_engine_under_test_job_runs_the_commits_engine_on_the_file(ingest, tmp_path, engine_env):
    """The file through the commit's own engine: the report says the engine is under test, at that commit."""
    from .test_commit_jobs import make_repo

    repo = tmp_path / "repo"
    repo.mkdir()
    _, second = make_repo(repo)
    write_mlp_onnx(repo / PATH, [16, 8])
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a model file")
    sha = git(repo, "rev-parse", "HEAD")
    job = ingest.add_job(kind="commit", repository=URL, commit=sha, warmup=0, repeats=2,
                         benchmark={"model": "onnx", "params": {"path": PATH, "batch": 2}})
    spool = tmp_path / "spool"
    spool.mkdir()
    AgentState(spool).update(peaks_fingerprint=machine_fingerprint(), peaks_measured_at=time.time())
    cfg = write_agent_config(tmp_path / "agent.toml", ingest.url, spool, engine=[],
                             extra=f'{FAST}[repository]\npath = "{repo}"\n')
    run_agent_until(cfg, lambda: bool(ingest.jobs[job].completions), timeout=120)
    assert ingest.jobs[job].status == "done", ingest.jobs[job].completions
    (doc,) = ingest.stored_bodies()
    assert doc["source"]["under_test"] == "engine" and doc["source"]["engine_version"] == sha
    assert doc["benchmark"]["params"] == {"path": PATH, "batch": 2}


def test_run_once_measures_the_onnx_benchmark_of_the_configured_checkout(ingest, tmp_path, engine_env, capsys):
    """No job, no commit: the file as it is in [repository] path, its HEAD the report's source."""
    from agents.cli import main

    repo = tmp_path / "repo"
    shas = model_repo(repo)
    git(repo, "checkout", "-q", shas[1])
    cfg = write_agent_config(tmp_path / "agent.toml", ingest.url, tmp_path / "spool", engine=[], extra=(
        f'[measurement]\nwarmup = 0\nrepeats = 2\n[repository]\npath = "{repo}"\n'
        f'[[benchmarks]]\nmodel = "onnx"\nparams = {{ path = "{PATH}", batch = 2 }}\n'))
    assert main(["run-once", "--config", str(cfg), "--max-attempts", "1"]) == 0, capsys.readouterr().err
    (doc,) = ingest.stored_bodies()
    assert doc["source"]["commit"] == shas[1] and doc["source"]["under_test"] == "model"
    assert doc["source"]["repository"] == repo.as_uri()  # the clone has no remote: its path
    assert {ly["name"]: ly["flops"] for ly in doc["layers"]}["fc2"] == 2 * 2 * 64 * 128
