"""`roofwatch-agent register`: trade an enrollment token for this machine's
agent token (POST /api/v1/agents/register) and store it in the config.

The fingerprint is the engine's (engine.machine.fingerprint): facts that
survive a reboot, so re-registering the same machine rotates its token
instead of creating a second machine. The server rotates it only for the
machine's current token (sent as `Authorization: Token ...`, read from the
config when the config is for the same server) or after an operator allowed
re-enrollment in the admin."""
from __future__ import annotations

import socket
import tomllib
from pathlib import Path

import requests

from .client import _server_message
from .config import ConfigError, set_top_level, write_config_text

REGISTER_PATH = "/api/v1/agents/register"
TIMEOUT = 30.0

NEW_CONFIG = """\
# roofwatch agent config, written by `roofwatch-agent register`.
# Every key is documented in docs/agent.toml.example.
name = {name}

[schedule]
interval_seconds = 0   # run [[benchmarks]] locally every N seconds; 0: only the server's jobs
poll_seconds = 30

[measurement]
warmup = 3
repeats = 10
"""


class RegistrationFailed(Exception):
    pass


def machine_fingerprint() -> str:
    from engine.machine import fingerprint  # numpy import: only when registering

    return fingerprint()


def default_name() -> str:
    host = socket.gethostname().split(".")[0]
    return "".join(c if c.isalnum() or c in "._-" else "-" for c in host) or "agent"


def current_token(path: Path, server: str) -> str | None:
    """The token in the config at `path` if that config is for `server`: a
    token is never sent to another server than the one that issued it."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    token, configured = doc.get("token"), doc.get("server")
    same = isinstance(configured, str) and configured.rstrip("/") == server.rstrip("/")
    return token if same and isinstance(token, str) and token else None


def register(server: str, enroll_token: str, name: str, fingerprint: str, *, current: str | None = None,
             timeout: float = TIMEOUT) -> str:
    """The machine token the server issued; RegistrationFailed with its reason otherwise.
    `current`: the machine's token so far, which lets the server re-enroll it."""
    url = server.rstrip("/") + REGISTER_PATH
    body = {"enroll_token": enroll_token, "name": name, "fingerprint": fingerprint}
    resp = _post(url, body, current, timeout)
    if resp.status_code == 401 and current:
        resp = _post(url, body, None, timeout)  # a stale token (rotated, revoked, another database): ask without
    if resp.status_code != 201:
        raise RegistrationFailed(f"{url} refused the registration (HTTP {resp.status_code}): {_server_message(resp)}")
    try:
        token = resp.json()["token"]
    except (ValueError, KeyError, TypeError):
        token = None
    if not isinstance(token, str) or not token:
        raise RegistrationFailed(f"{url} answered 201 without a token; is {server} a roofwatch server?")
    return token


def _post(url: str, body: dict, token: str | None, timeout: float) -> requests.Response:
    headers = {"Authorization": f"Token {token}"} if token else {}
    try:
        return requests.post(url, json=body, headers=headers, timeout=timeout, allow_redirects=False)
    except requests.RequestException as e:
        raise RegistrationFailed(f"cannot reach {url}: {e}") from None


def store_token(path: Path, server: str, token: str, name: str) -> Path:
    """Write server and token into the config at `path`: a new config from a
    template, or the existing one with only those two keys replaced."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        from .config import toml_string

        text = NEW_CONFIG.format(name=toml_string(name))
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the existing config: {e.strerror or e}") from None
    return write_config_text(path, set_top_level(text, {"server": server.rstrip("/"), "token": token}))
