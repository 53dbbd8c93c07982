import json

from agents.spool import Spool

from .conftest import write_agent_config
from .daemon_helpers import FAST, run_agent_until


def test_the_daemon_runs_a_claimed_job_uploads_it_and_completes_the_job_with_the_run_id(ingest, tmp_path):
    job_id = ingest.add_job("mlp")
    cfg = write_agent_config(tmp_path / "agent.toml", ingest.url, tmp_path / "spool", extra=FAST)
    run_agent_until(cfg, lambda: ingest.jobs[job_id].status != "claimed" and ingest.jobs[job_id].claims)
    job = ingest.jobs[job_id]
    assert job.status == "done" and job.claims == 1
    [(run_id, body)] = ingest.runs.values()
    assert job.completions == [{"lease": job.lease, "run": run_id}]
    assert json.loads(body)["benchmark"]["model"] == "mlp"
    spool = Spool(tmp_path / "spool")
    assert spool.pending() == [] and list((spool.path / "outbox").iterdir()) == []
    assert list(spool.path.glob("*.meta")) == []


def test_an_engine_crash_completes_the_job_as_failed_with_the_stderr_tail(ingest, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_EXIT", "3")
    job_id = ingest.add_job("mlp")
    cfg = write_agent_config(tmp_path / "agent.toml", ingest.url, tmp_path / "spool", extra=FAST)
    run_agent_until(cfg, lambda: ingest.jobs[job_id].status == "failed")
    [done] = ingest.jobs[job_id].completions
    assert "exit code 3" in done["error"] and done["stderr_tail"].endswith("boom: the kernel crashed")
    assert done["timed_out"] is False and ingest.runs == {}


def test_an_engine_past_the_jobs_timeout_is_killed_and_reported_as_timed_out(ingest, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_SLEEP", "30")
    job_id = ingest.add_job("mlp", timeout_seconds=0.5)
    cfg = write_agent_config(tmp_path / "agent.toml", ingest.url, tmp_path / "spool", extra=FAST)
    run_agent_until(cfg, lambda: ingest.jobs[job_id].status == "failed")
    [done] = ingest.jobs[job_id].completions
    assert done["timed_out"] is True and "timed out after 0.5 s" in done["error"]


def test_the_jobs_params_threads_and_the_pinning_reach_the_engine(ingest, tmp_path, monkeypatch):
    argv_log = tmp_path / "argv.jsonl"
    monkeypatch.setenv("FAKE_ENGINE_ARGV", str(argv_log))
    job_id = ingest.add_job("dlrm_small", benchmark={"model": "dlrm_small", "params": {"batch": 4, "sizes": [8, 2]}},
                            threads=1, warmup=0, repeats=3,
                            config={"passes": [], "quant": "none", "flags": {}, "inject": ["compute:fc0:2.0"]})
    cfg = write_agent_config(tmp_path / "agent.toml", ingest.url, tmp_path / "spool",
                             extra=FAST + "[measurement]\ncpus = [0]\n")
    run_agent_until(cfg, lambda: ingest.jobs[job_id].status == "done")
    runs = [json.loads(line) for line in argv_log.read_text().splitlines()]
    [run] = [r for r in runs if r["argv"][0] == "run"]
    argv = run["argv"]
    assert argv[1] == "dlrm_small" and run["cpus"] == [0]
    assert " ".join(argv[argv.index("--repeats"):]) == (
        "--repeats 3 --warmup 0 --threads 1 --param batch=4 --param sizes=8,2 --inject compute:fc0:2.0")


def test_with_no_job_the_configured_benchmarks_run_once_per_interval(ingest, tmp_path):
    extra = ("[schedule]\npoll_seconds = 0.05\ninterval_seconds = 3600\n"
             '[[benchmarks]]\nmodel = "mlp"\n[[benchmarks]]\nmodel = "wdl_small"\n')
    cfg = write_agent_config(tmp_path / "agent.toml", ingest.url, tmp_path / "spool", extra=extra)
    run_agent_until(cfg, lambda: len(ingest.runs) >= 2)
    run_agent_until(cfg, lambda: len([r for r in ingest.requests if r[0].endswith("claim")]) >= 10)
    assert sorted(b["benchmark"]["model"] for b in ingest.stored_bodies()) == ["mlp", "wdl_small"]
