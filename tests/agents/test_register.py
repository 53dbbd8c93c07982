import os
import stat
import subprocess
import sys
import tomllib

from agents.cli import main
from agents.config import load_config
from agents.register import machine_fingerprint

from .ingest_server import ENROLL_TOKEN, GOOD_TOKEN

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_register_stores_the_machine_token_in_a_0600_config_under_xdg_config_home(ingest, tmp_path, monkeypatch,
                                                                                   capsys):
    monkeypatch.delenv("ROOFWATCH_AGENT_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    code = main(["register", "--server", ingest.url, "--enroll-token", ENROLL_TOKEN, "--name", "box-1"])
    out, err = capsys.readouterr()
    assert code == 0, err
    path = tmp_path / "roofwatch" / "agent.toml"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    cfg = load_config(path)
    assert (cfg.server, cfg.token, cfg.name) == (ingest.url, GOOD_TOKEN, "box-1")
    assert ingest.registrations == [{"enroll_token": ENROLL_TOKEN, "name": "box-1",
                                     "fingerprint": machine_fingerprint()}]
    assert str(path) in out


def test_registering_again_replaces_only_server_and_token(ingest, tmp_path, capsys):
    path = tmp_path / "agent.toml"
    path.write_text('# ops notes\nserver = "http://old:1"\ntoken = "old"\n[measurement]\nrepeats = 42\n')
    assert main(["register", "--server", ingest.url, "--enroll-token", ENROLL_TOKEN, "--config", str(path)]) == 0
    text = path.read_text()
    assert "# ops notes" in text
    doc = tomllib.loads(text)
    assert doc["token"] == GOOD_TOKEN and doc["server"] == ingest.url and doc["measurement"]["repeats"] == 42


def test_a_refused_enrollment_says_why_and_writes_nothing(ingest, tmp_path, capsys):
    path = tmp_path / "agent.toml"
    code = main(["register", "--server", ingest.url, "--enroll-token", "wrong", "--config", str(path)])
    assert code == 1
    err = capsys.readouterr().err
    assert "HTTP 401" in err and "Invalid enrollment token" in err
    assert not path.exists()


def test_the_fingerprint_is_the_same_in_a_fresh_process():
    code = "from agents.register import machine_fingerprint; print(machine_fingerprint())"
    runs = [subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
            .stdout.strip() for _ in range(2)]
    assert runs[0] == runs[1] == machine_fingerprint() and len(runs[0]) == 64


def _register_auth(ingest) -> list[str]:
    return [auth for path, auth, _ in ingest.requests if path == "/api/v1/agents/register"]


def test_re_registering_sends_the_configs_token_to_the_server_that_issued_it(ingest, tmp_path):
    path = tmp_path / "agent.toml"
    path.write_text(f'server = "{ingest.url}/"\ntoken = "rw_current"\n')
    assert main(["register", "--server", ingest.url, "--enroll-token", ENROLL_TOKEN, "--config", str(path)]) == 0
    assert _register_auth(ingest) == ["Token rw_current"]
    assert load_config(path).token == GOOD_TOKEN


def test_a_token_for_another_server_is_never_sent(ingest, tmp_path):
    path = tmp_path / "agent.toml"
    path.write_text('server = "http://other.example"\ntoken = "rw_elsewhere"\n')
    assert main(["register", "--server", ingest.url, "--enroll-token", ENROLL_TOKEN, "--config", str(path)]) == 0
    assert _register_auth(ingest) == [""]


def test_a_stale_token_is_dropped_and_the_servers_answer_shown(ingest, tmp_path, capsys):
    path = tmp_path / "agent.toml"
    path.write_text(f'server = "{ingest.url}"\ntoken = "rw_rotated"\n')
    ingest.answer_next(401, body={"detail": "Invalid token: no machine has it (unknown, rotated or revoked)."})
    ingest.answer_next(403, body={"detail": "Machine 'box-1' is already enrolled: re-enrolling it needs ..."})
    code = main(["register", "--server", ingest.url, "--enroll-token", ENROLL_TOKEN, "--config", str(path)])
    assert code == 1
    assert _register_auth(ingest) == ["Token rw_rotated", ""]
    err = capsys.readouterr().err
    assert "HTTP 403" in err and "already enrolled" in err
    assert load_config(path).token == "rw_rotated"  # nothing written on refusal
