"""The agent's side of a sweep section: the engine's sweep command line, a
real tiny sweep measured as a job would be, and sweep reports routed to
/api/v1/sweeps/ (completion with the sweep, not a run)."""
import json

from agents.client import REPORT_RUN, REPORT_SWEEP, ingest_url, report_kind
from agents.config import parse_config
from agents.execute import RunRequest, measure
from agents.jobs_client import Job
from agents.outbox import Outbox
from agents.runner import engine_args
from agents.spool import Spool
from engine.sweep.report import SWEEP_SCHEMA

from .conftest import ENGINE_MODEL
from .test_model_under_test_jobs import PATH, URL, model_repo

TINY = {"threads": [1], "batch": [2, 4], "budget_s": 60, "rounds": 1}


def test_a_sweep_section_makes_the_engines_sweep_command(tmp_path):
    args = engine_args("mlp", tmp_path / "r.json", params={"batch": 8, "sizes": [4, 2]}, warmup=1, repeats=3,
                       threads=2, passes=["ignored"], sweep={"threads": [1, 2], "slo_p99_ms": 5, "budget_s": 30},
                       commit="abc1234")
    assert args[:4] == ["sweep", "mlp", "--json", str(tmp_path / "r.json")]
    assert args[4:8] == ["--batch", "8", "--param", "sizes=4,2"]  # the params' batch: the grid's only batch
    assert "--threads" in args and args[args.index("--threads") + 1] == "1,2"
    assert args[-6:] == ["--budget-s", "30", "--slo-p99-ms", "5", "--commit", "abc1234"]
    assert "run" not in args and "--passes" not in args
    listed = engine_args("mlp", tmp_path / "r.json", params={"batch": 8}, sweep={"batch": [2, 4], "budget_s": 9})
    assert listed[listed.index("--batch") + 1] == "2,4" and listed.count("--batch") == 1


def config(tmp_path):
    return parse_config({"server": "http://127.0.0.1:1", "token": "rw_x", "spool": str(tmp_path / "spool"),
                         "measurement": {"timeout_seconds": 120}, "quiet": {"max_wait_seconds": 0}},
                        tmp_path / "agent.toml")


def test_a_job_with_a_sweep_measures_a_real_tiny_sweep(tmp_path, engine_env):
    doc = {"id": 7, "lease": "l", "kind": "schedule", "benchmark": {"model": ENGINE_MODEL, "params": {}},
           "config": {"passes": [], "quant": "none", "flags": {}, "inject": [], "sweep": TINY},
           "warmup": 0, "repeats": 2, "threads": None, "timeout_seconds": 120}
    job = Job.from_json(doc)
    assert job.spec.sweep == TINY
    body, conditions = measure(RunRequest.from_job(job, config(tmp_path)), config(tmp_path))
    report = json.loads(body)
    assert report["schema"] == SWEEP_SCHEMA and report["model"] == ENGINE_MODEL and report["budget_s"] == 60
    assert report["rounds"] == 1
    assert sorted(r["batch"] for r in report["results"]) == [2, 4]
    assert all(r["status"] == "ok" and r["timed_passes"] == 2 for r in report["results"])
    assert "conditions" not in report  # the sweep schema is strict: its own load_before/after only
    assert conditions["quiet"] in (True, False)
    assert report_kind(body) == REPORT_SWEEP


def test_an_onnx_benchmark_sweeps_its_file_under_its_repo_path(tmp_path):
    args = engine_args("onnx", tmp_path / "r.json", onnx_file="/tree/m/net.onnx", sweep={"budget_s": 9},
                       params={"path": "m/net.onnx", "batch": 4, "input_ranges": {"ids": [0, 10]}})
    assert args[:7] == ["sweep", "--onnx", "/tree/m/net.onnx", "--repo-path", "m/net.onnx", "--json",
                        str(tmp_path / "r.json")]
    assert args[7:11] == ["--input-range", "ids=0:10", "--batch", "4"] and "--param" not in args


def test_a_model_under_test_commit_job_sweeps_the_file_at_the_commit(tmp_path, engine_env):
    repo = tmp_path / "repo"
    shas = model_repo(repo)
    doc = {"id": 8, "lease": "l", "kind": "commit", "repository": URL, "commit": shas[1], "under_test": "model",
           "benchmark": {"model": "onnx", "params": {"path": PATH, "batch": 2}},
           "config": {"passes": [], "quant": "none", "flags": {}, "inject": [],
                      "sweep": {"threads": [1], "batch": [2, 4], "budget_s": 60, "rounds": 1}},
           "warmup": 0, "repeats": 2, "threads": None, "timeout_seconds": 120}
    cfg = parse_config({"server": "http://127.0.0.1:1", "token": "rw_x", "spool": str(tmp_path / "spool"),
                        "measurement": {"timeout_seconds": 120}, "quiet": {"max_wait_seconds": 0},
                        "repository": {"path": str(repo)}}, tmp_path / "agent.toml")
    body, _ = measure(RunRequest.from_job(Job.from_json(doc), cfg), cfg)
    report = json.loads(body)
    assert report["schema"] == SWEEP_SCHEMA and report["model"] == "onnx" and report["params"] == {"path": PATH}
    assert [(r["batch"], r["status"]) for r in report["results"]] == [(2, "ok"), (4, "ok")]
    assert report["source"]["commit"] == shas[1] and report["source"]["repository"] == URL
    assert report["source"]["under_test"] == "model" and report["source"]["engine_version"].startswith("roofwatch ")
    assert not list(tmp_path.glob("**/roofwatch-worktree-*"))


def test_sweep_reports_go_to_the_sweeps_endpoint_and_complete_the_job_with_the_sweep(tmp_path):
    assert ingest_url("http://x/", REPORT_SWEEP) == "http://x/api/v1/sweeps/"
    assert ingest_url("http://x", REPORT_RUN) == "http://x/api/v1/runs/"
    assert report_kind(json.dumps({"schema": "roofwatch.run/1"}).encode()) == REPORT_RUN
    assert report_kind(b"not json") == REPORT_RUN  # the runs endpoint says why it is refused
    spool = Spool(tmp_path / "spool")
    path = spool.put(json.dumps({"schema": SWEEP_SCHEMA, "idempotency_key": "k"}), "k0000001",
                     meta={"job": {"id": 3, "lease": "l"}})
    outbox = Outbox(spool)
    outbox.record_acked(spool, path, 41, REPORT_SWEEP)
    calls = []

    class Jobs:
        def complete_sweep(self, *args):
            calls.append(("sweep", *args))

        def complete_run(self, *args):
            calls.append(("run", *args))

    assert outbox.deliver(Jobs()) == (1, None)
    assert calls == [("sweep", 3, "l", 41)]
