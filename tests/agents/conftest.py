import json
import os
import socket
import uuid

import pytest

from tests import report_factory

from .ingest_server import GOOD_TOKEN, IngestServer


@pytest.fixture
def ingest():
    server = IngestServer().start()
    yield server
    server.stop()


@pytest.fixture
def dead_server_url():
    """A URL where nothing listens: connecting is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def token():
    return GOOD_TOKEN


@pytest.fixture
def unwritable_dir(tmp_path):
    """A spool path the process cannot create or write. chmod does not stop
    root, so as root the path goes under a regular file instead."""
    if os.geteuid() == 0:
        afile = tmp_path / "afile"
        afile.write_text("not a directory")
        yield afile / "spool"
        return
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    yield locked / "spool"
    locked.chmod(0o700)


def make_report(key: str | None = None, model: str = "mlp-test") -> str:
    """A valid report as JSON text, keyed `key` (the test server stores by key)."""
    return json.dumps(report_factory.make_report(model=model, idempotency_key=key or str(uuid.uuid4())))


@pytest.fixture
def engine_env(engine_cache_dir, monkeypatch):
    """Environment for real engine subprocesses (they inherit os.environ)."""
    monkeypatch.setenv("ROOFWATCH_CACHE_DIR", str(engine_cache_dir))
    return engine_cache_dir


ENGINE_MODEL = "mlp"  # the smallest model the engine ships
QUICK_RUN = ["--batch", "8", "--repeats", "2", "--warmup", "1", "--max-wait", "0"]  # no quiet wait on a busy CI box


FAKE_ENGINE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_engine.py")


def write_agent_config(path, server: str, spool, *, token: str = "rw_good-token", extra: str = "",
                       engine: list[str] | None = None) -> "os.PathLike":
    """An agent.toml using the fake engine (tests/agents/fake_engine.py) unless `engine` is given,
    measuring at once (no quiet wait: the test box is busy) unless `extra` has its own [quiet]."""
    import sys

    cmd = engine if engine is not None else [sys.executable, FAKE_ENGINE]
    text = (f"server = {json.dumps(server)}\ntoken = {json.dumps(token)}\nspool = {json.dumps(str(spool))}\n"
            f"engine = {json.dumps(cmd)}\n{extra}")
    if "[quiet]" not in extra:
        text += "\n[quiet]\nmax_wait_seconds = 0\n"
    path.write_text(text)
    return path
