"""Deployment settings: with DEBUG off and the production environment of
docker/env.example, `manage.py check --deploy` has nothing to say (secure
cookies, https redirect, HSTS, the proxy's SSL header); under DEBUG none of it
applies, so `make demo` works on plain http."""
import os
import secrets
import subprocess
import sys

import pytest
from django.test import Client

from tests.conftest import REPO

ENV_EXAMPLE = REPO / "docker" / "env.example"
# What the settings and Django's checks read that the test run's own environment may hold
# (the browser tests set DJANGO_ALLOW_ASYNC_UNSAFE, which check --deploy rightly refuses).
SCRUBBED = ("DEBUG", "SECRET_KEY", "DJANGO_", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "SECURE_")


def production_env() -> dict[str, str]:
    """docker/env.example with a real secret key, as an operator fills it in."""
    documented = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            documented[name.strip()] = value.strip()
    return {**documented, "SECRET_KEY": secrets.token_urlsafe(50)}


def clean_env(**env: str) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items()
                 if not k.startswith(SCRUBBED) and not k.startswith("ROOFWATCH_")}
    return {**inherited, "DJANGO_SETTINGS_MODULE": "roofwatch.settings", **env}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=clean_env(**env),
                          capture_output=True, text=True, timeout=120)


def settings_values(*names: str, **env: str) -> list[str]:
    code = "import roofwatch.settings as s; print(*(repr(getattr(s, n)) for n in %r), sep='\\n')" % (names,)
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO / "platform", env=clean_env(**env),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_the_documented_production_environment_passes_check_deploy_without_warnings():
    env = production_env()
    assert env["ROOFWATCH_HTTPS"] == "1" and env["ROOFWATCH_SECURE_PROXY_SSL_HEADER"]
    done = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues (0 silenced)." in done.stdout


def test_production_defaults_are_secure_when_debug_is_off():
    names = ("SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS",
             "SECURE_PROXY_SSL_HEADER")
    values = settings_values(*names, DEBUG="0", SECRET_KEY="k" * 50,
                             ROOFWATCH_SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto: https")
    assert values == ["True", "True", "True", str(365 * 24 * 3600), "('HTTP_X_FORWARDED_PROTO', 'https')"]


def test_debug_relaxes_https_so_the_demo_works_on_plain_http():
    values = settings_values("SESSION_COOKIE_SECURE", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", DEBUG="1")
    assert values == ["False", "False", "0"]


def test_a_proxy_that_redirects_itself_is_not_warned_about():
    env = {**production_env(), "ROOFWATCH_SSL_REDIRECT": "0"}
    done = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert settings_values("SECURE_SSL_REDIRECT", **env) == ["False"]


def test_a_malformed_proxy_header_stops_startup_naming_the_variable():
    done = manage("check", env={**production_env(), "ROOFWATCH_SECURE_PROXY_SSL_HEADER": "https"})
    assert done.returncode != 0 and "ROOFWATCH_SECURE_PROXY_SSL_HEADER" in done.stderr


@pytest.fixture
def https_settings(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 3600
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    return settings


def test_plain_http_is_redirected_but_the_health_check_is_not(https_settings, db):
    client = Client()
    response = client.get("/runs/")
    assert response.status_code == 301 and response["Location"] == "https://testserver/runs/"
    assert client.get("/healthz").status_code == 200


def test_requests_the_proxy_marks_as_https_are_served_with_hsts(https_settings, db):
    response = Client().get("/healthz", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 200
    assert response["Strict-Transport-Security"].startswith("max-age=3600")
