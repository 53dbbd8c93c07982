"""The agent daemon as a real process, for the reliability tests."""
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.conftest import REPO


def start_daemon(config: Path, log: Path, env: dict | None = None, preexec=None) -> subprocess.Popen:
    """The daemon's output goes through a pipe that this process copies to `log`,
    so a file-size limit set in `preexec` does not cut the log short."""
    log.touch()
    proc = subprocess.Popen(
        [sys.executable, "-m", "agents.cli", "daemon", "--config", str(config)],
        cwd=REPO, env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, preexec_fn=preexec,
    )

    def copy():
        with open(log, "ab") as out:
            for line in proc.stdout:
                out.write(line)
                out.flush()

    proc.copier = threading.Thread(target=copy, daemon=True)  # type: ignore[attr-defined]
    proc.copier.start()  # type: ignore[attr-defined]
    return proc


def stop(proc: subprocess.Popen, sig=signal.SIGTERM, timeout=20.0) -> int:
    """Signal the daemon, wait for it, and for its last log lines."""
    proc.send_signal(sig)
    code = proc.wait(timeout=timeout)
    proc.copier.join(timeout=5)  # type: ignore[attr-defined]
    return code


def wait_for(done, timeout=30.0, proc: subprocess.Popen | None = None, what="condition"):
    deadline = time.monotonic() + timeout
    while not done():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the daemon exited with {proc.returncode} before the {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for the {what}")
        time.sleep(0.05)


def spooled_keys(log: Path) -> set[str]:
    """Keys the daemon logged as durably spooled (the line comes after put returned)."""
    keys = set()
    for line in log.read_text(errors="replace").splitlines():
        if "event=spooled" in line:
            keys.add(line.split("key=", 1)[1].split()[0])
    return keys


def check_spool_files(spool: Path) -> None:
    """No corrupt file: every report, meta and outbox entry in place parses."""
    for path in spool.glob("[!.]*.json"):
        assert json.loads(path.read_bytes())["idempotency_key"] == path.stem, path
    for path in [*spool.glob("[!.]*.meta"), *spool.glob("outbox/[!.]*.json"), *spool.glob(".agent-state")]:
        assert isinstance(json.loads(path.read_bytes()), dict), path
