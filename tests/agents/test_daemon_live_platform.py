"""The agent against the real platform (Django live server): register with an
enrollment token, then the daemon claims a job, runs the real engine, uploads
the report and completes the job with the stored run's id."""
import time

from fleet.models import KIND_SCHEDULE, EnrollmentToken, Job, Machine
from results.models import Run

from agents.cli import main
from agents.config import load_config
from agents.register import machine_fingerprint
from agents.state import AgentState

from .daemon_helpers import run_agent_until


def test_a_registered_agent_runs_a_platform_job_and_completes_it_with_its_run(live_server, tmp_path, engine_env,
                                                                             capsys):
    _, secret = EnrollmentToken.issue(label="test")
    cfg_path = tmp_path / "agent.toml"
    assert main(["register", "--server", live_server.url, "--enroll-token", secret, "--name", "live-box",
                 "--config", str(cfg_path)]) == 0, capsys.readouterr().err
    machine = Machine.objects.get(name="live-box")
    assert machine.fingerprint == machine_fingerprint()

    spool = tmp_path / "spool"
    spool.mkdir()
    AgentState(spool).update(peaks_fingerprint=machine_fingerprint(), peaks_measured_at=time.time())
    text = cfg_path.read_text().replace("poll_seconds = 30", "poll_seconds = 0.1")
    cfg_path.write_text(f'spool = "{spool}"\n' + text + "\n[quiet]\nmax_wait_seconds = 0\n")  # a busy test box
    assert load_config(cfg_path).server == live_server.url
    job = Job.objects.create(machine=machine, kind=KIND_SCHEDULE, model="mlp", params={"batch": 8},
                             warmup=0, repeats=2)

    def finished():
        job.refresh_from_db()
        return job.status in ("done", "failed")

    run_agent_until(cfg_path, finished, timeout=90)
    assert job.status == "done", (job.error, job.stderr_tail)
    run = Run.objects.get(pk=job.run_id)
    assert run.machine_id == machine.pk and run.benchmark.model == "mlp" and run.repeats == 2
