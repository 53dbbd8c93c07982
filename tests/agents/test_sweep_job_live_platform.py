"""A schedule whose spec has a sweep section, end to end against the real
platform (Django live server): the schedule makes a job, the agent runs the
engine's sweep within the budget, uploads the sweep report to
/api/v1/sweeps/ and completes the job with the stored sweep's id."""
import time

from fleet.jobs import enqueue_scheduled
from fleet.models import EnrollmentToken, Job, Machine, MachineGroup, Schedule
from results.models import Sweep

from agents.cli import main
from agents.register import machine_fingerprint
from agents.state import AgentState

from .daemon_helpers import run_agent_until

SWEEP = {"threads": [1], "batch": [4, 8], "instances": [1], "budget_s": 60, "rounds": 2}


def test_a_schedule_with_a_sweep_section_produces_a_stored_sweep(live_server, tmp_path, engine_env, capsys):
    _, secret = EnrollmentToken.issue(label="test")
    cfg_path = tmp_path / "agent.toml"
    assert main(["register", "--server", live_server.url, "--enroll-token", secret, "--name", "sweep-box",
                 "--config", str(cfg_path)]) == 0, capsys.readouterr().err
    machine = Machine.objects.get(name="sweep-box")
    spool = tmp_path / "spool"
    spool.mkdir()
    AgentState(spool).update(peaks_fingerprint=machine_fingerprint(), peaks_measured_at=time.time())
    text = cfg_path.read_text().replace("poll_seconds = 30", "poll_seconds = 0.1")
    cfg_path.write_text(f'spool = "{spool}"\n' + text + "\n[quiet]\nmax_wait_seconds = 0\n")

    group = MachineGroup.objects.create(name="sweepers")
    group.machines.add(machine)
    schedule = Schedule(name="mlp sweep", group=group, model="mlp", config={"sweep": SWEEP},
                        warmup=0, repeats=2, timeout_seconds=120)
    schedule.full_clean()  # the shared spec check (engine.sweep.spec) takes it
    schedule.save()
    assert enqueue_scheduled() == 1
    job = Job.objects.get(schedule=schedule)

    def finished():
        job.refresh_from_db()
        return job.status in ("done", "failed")

    run_agent_until(cfg_path, finished, timeout=120)
    assert job.status == "done", (job.error, job.stderr_tail)
    assert job.run_id is None
    sweep = Sweep.objects.get(pk=job.sweep_id)
    assert sweep.machine_id == machine.pk and sweep.benchmark.model == "mlp"
    assert sweep.budget_s == 60 and sweep.grid["batch"] == [4, 8]
    assert sorted(p.batch for p in sweep.points.all()) == [4, 8]
    assert sweep.rounds == 2 and all(len(p.throughput_rounds) == 2 for p in sweep.points.all())
    assert not list(spool.glob("*.json"))  # acked: nothing left to upload
