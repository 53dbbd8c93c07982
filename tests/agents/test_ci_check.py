"""`roofwatch-agent ci-check` against a real platform (live server): exit 1
with a table for the commit that regressed, 0 for a clean one, 2 when it
cannot tell (no runs in time, jobs still pending, server unreachable)."""
import io

import pytest

from agents.ci_check import Api, check, same_commit
from agents.cli import main
from fleet.models import Job, Machine
from regressions.models import ACKNOWLEDGED, AlertSummary
from tests.notify.alerts import make_regression

pytestmark = pytest.mark.django_db(transaction=True)


def run_check(url: str, commit: str, token: str | None = None, **options):
    out, err = io.StringIO(), io.StringIO()
    settings = {"wait": 2, "threshold_pct": 0.0, "poll": 0.1, "settle": 0, **options}
    if token is None:
        token = Machine.objects.get().rotate_token() if Machine.objects.exists() else "rw_none"
    code = check(Api(url, token), commit, out=out, err=err, **settings)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def regressed(live_server):
    summary = make_regression()
    return live_server.url, summary


def test_it_exits_1_with_a_table_for_the_commit_that_regressed(regressed):
    url, summary = regressed
    code, out, err = run_check(url, "c12")
    assert code == 1, err
    assert "untriaged regression(s)" in out
    lines = out.splitlines()
    assert lines[1].split() == ["summary", "change", "bound", "benchmark", "layer", "machine"]
    assert any(line.split()[0] == str(summary.pk) and " fc1 " in f" {line} " for line in lines[2:])
    assert f"{url}/alerts/{summary.pk}/" in out


def test_it_exits_0_for_a_clean_commit(regressed):
    url, _ = regressed
    code, out, _ = run_check(url, "c5")
    assert code == 0
    assert "clean (1 run(s)" in out


def test_it_exits_0_when_the_regression_is_under_the_threshold(regressed):
    url, _ = regressed
    assert run_check(url, "c12", threshold_pct=500)[0] == 0


def test_it_exits_0_once_the_summary_is_acknowledged(regressed):
    url, summary = regressed
    AlertSummary.objects.filter(pk=summary.pk).update(status=ACKNOWLEDGED)
    assert run_check(url, "c12")[0] == 0


def test_it_exits_2_when_no_run_of_the_commit_arrives_in_time(regressed):
    url, _ = regressed
    code, _, err = run_check(url, "deadbeefdeadbeef", wait=0.5)
    assert code == 2
    assert "no runs of commit deadbeefdeadbeef after 0.5 s" in err


def test_it_exits_2_while_a_job_of_the_commit_is_pending(regressed):
    url, _ = regressed
    Job.objects.create(machine=Machine.objects.get(), kind="commit", repository="r", commit="c5", model="mlp")
    code, _, err = run_check(url, "c5", wait=0.5)
    assert code == 2
    assert "1 job(s) of commit c5 still pending" in err


def test_it_exits_2_at_once_when_the_token_is_refused(regressed):
    url, _ = regressed
    code, _, err = run_check(url, "c12", token="rw_unknown", wait=30)
    assert code == 2
    assert "HTTP 401" in err and "check --token" in err


def test_it_exits_2_when_the_server_is_unreachable(dead_server_url):
    code, _, err = run_check(dead_server_url, "c12", wait=0.3)
    assert code == 2
    assert "unreachable" in err


def test_the_cli_subcommand_returns_the_exit_status(regressed, capsys):
    url, _ = regressed
    token = Machine.objects.get().rotate_token()
    argv = ["ci-check", "--server", url, "--token", token, "--commit", "c12", "--wait", "5", "--poll", "0.1",
            "--settle", "0"]
    assert main(argv) == 1
    assert "fc1" in capsys.readouterr().out


def test_a_short_commit_id_matches_a_full_one():
    assert same_commit("0123456789abcdef", "0123456") and not same_commit("0123456789", "012345")
