"""The daemon answers a platform's commits job (Django live server): the job is
done with the first-parent list of base..head as its result."""
from fleet.jobs import enqueue_commit_list
from fleet.models import DONE, Machine

from .conftest import write_agent_config
from .daemon_helpers import FAST, run_agent_until
from .test_bisect_commits_jobs import history  # noqa: F401 (a fixture)


def test_a_platform_commits_job_is_done_with_its_list(live_server, history, tmp_path):  # noqa: F811
    repo, c = history
    machine = Machine.objects.create(name="lister")
    token = machine.rotate_token()
    job = enqueue_commit_list(machine, "https://example.com/engine.git", c["base"], c["three"])
    cfg = write_agent_config(tmp_path / "agent.toml", live_server.url, tmp_path / "spool", token=token,
                             extra=f'{FAST}[repository]\npath = "{repo}"\n')

    def finished():
        job.refresh_from_db()
        return job.status in ("done", "failed")

    run_agent_until(cfg, finished, timeout=60)
    assert job.status == DONE, job.error
    assert [e["sha"] for e in job.result["commits"]] == [c["one"], c["merge"], c["three"]]
    assert job.run_id is None
