import json

from agents.cli import main
from agents.spool import Spool

from .conftest import write_agent_config

BENCHMARKS = ('[measurement]\nwarmup = 0\nrepeats = 2\n[quiet]\nmax_load = 1000.0\n'
              '[[benchmarks]]\nmodel = "mlp"\nparams = { batch = 4 }\n'
              '[[benchmarks]]\nmodel = "wdl_small"\nrepeats = 5\n')


def test_run_once_without_a_model_runs_the_configs_benchmarks_and_keeps_the_noise_conditions(
    ingest, tmp_path, monkeypatch, capsys
):
    argv_log = tmp_path / "argv.jsonl"
    monkeypatch.setenv("FAKE_ENGINE_ARGV", str(argv_log))
    cfg = write_agent_config(tmp_path / "agent.toml", ingest.url, tmp_path / "spool", extra=BENCHMARKS)
    assert main(["run-once", "--config", str(cfg), "--max-attempts", "1"]) == 0, capsys.readouterr().err
    assert sorted(b["benchmark"]["model"] for b in ingest.stored_bodies()) == ["mlp", "wdl_small"]
    argvs = [json.loads(line)["argv"] for line in argv_log.read_text().splitlines()]
    assert argvs[0][1] == "mlp" and argvs[0][4:] == ["--repeats", "2", "--warmup", "0", "--param", "batch=4"]
    assert argvs[1][1] == "wdl_small" and argvs[1][4:6] == ["--repeats", "5"]
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_the_noise_conditions_stay_with_the_spooled_report_until_it_is_uploaded(dead_server_url, tmp_path):
    cfg = write_agent_config(tmp_path / "agent.toml", dead_server_url, tmp_path / "spool", extra=BENCHMARKS)
    assert main(["run-once", "--config", str(cfg), "--max-attempts", "1"]) == 1
    spool = Spool(tmp_path / "spool")
    metas = [spool.meta(p) for p in spool.pending()]
    assert len(metas) == 2 and all(m["job"] is None for m in metas)
    cond = metas[0]["conditions"]
    assert cond["quiet"] is True and cond["max_load"] == 1000.0 and len(cond["loadavg_after"]) == 3


def test_run_once_without_a_model_or_benchmarks_says_what_is_missing(ingest, tmp_path, capsys):
    cfg = write_agent_config(tmp_path / "agent.toml", ingest.url, tmp_path / "spool")
    assert main(["run-once", "--config", str(cfg)]) == 2
    assert "has no [[benchmarks]]; add one or give --model" in capsys.readouterr().err


def test_a_bad_config_stops_every_command_with_file_key_and_expected_type(tmp_path, capsys):
    cfg = tmp_path / "agent.toml"
    cfg.write_text('server = "http://x:1"\ntoken = "t"\n[schedule]\npoll_seconds = "often"\n')
    assert main(["daemon", "--config", str(cfg)]) == 2
    assert f"{cfg}: schedule.poll_seconds: expected a number > 0, got 'often'" in capsys.readouterr().err


def test_the_configs_precision_target_reaches_the_engine(ingest, tmp_path, monkeypatch, capsys):
    argv_log = tmp_path / "argv.jsonl"
    monkeypatch.setenv("FAKE_ENGINE_ARGV", str(argv_log))
    extra = ('[measurement]\nwarmup = 0\nrepeats = 2\n[quiet]\nmax_load = 1000.0\n'
             '[[benchmarks]]\nmodel = "mlp"\n[benchmarks.config]\ntarget_ci = 1.5\nbudget_s = 20\n'
             '[[benchmarks]]\nmodel = "wdl_small"\n')
    cfg = write_agent_config(tmp_path / "agent.toml", ingest.url, tmp_path / "spool", extra=extra)
    assert main(["run-once", "--config", str(cfg), "--max-attempts", "1"]) == 0, capsys.readouterr().err
    argvs = [json.loads(line)["argv"] for line in argv_log.read_text().splitlines()]
    assert argvs[0][4:] == ["--repeats", "2", "--warmup", "0", "--target-ci", "1.5", "--budget-s", "20.0"]
    assert "--target-ci" not in argvs[1] and "--budget-s" not in argvs[1]


def test_a_jobs_precision_target_comes_from_its_config():
    from agents.jobs_client import Job

    doc = {"id": 7, "lease": "l", "benchmark": {"model": "dlrm"}, "warmup": 3, "repeats": 10,
           "config": {"passes": [], "quant": "none", "flags": {}, "inject": [], "target_ci": 2.0, "budget_s": 45}}
    spec = Job.from_json(doc).spec
    assert (spec.target_ci, spec.budget_s) == (2.0, 45)
    del doc["config"]["target_ci"], doc["config"]["budget_s"]
    assert (Job.from_json(doc).spec.target_ci, Job.from_json(doc).spec.budget_s) == (None, None)
