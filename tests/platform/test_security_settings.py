"""Secrets come from the environment only, and a signed-in browser session
cannot be used to triage without the CSRF token."""
import os
import subprocess
import sys

from django.contrib.auth.models import User
from django.test import Client

from tests.conftest import REPO


def settings_import(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE")}
    return subprocess.run(
        [sys.executable, "-c", "import roofwatch.settings as s; print(len(s.SECRET_KEY))"],
        cwd=REPO / "platform", env={**clean, **env}, capture_output=True, text=True, timeout=60,
    )


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off():
    done = settings_import(DEBUG="0")
    assert done.returncode != 0 and "SECRET_KEY must be set" in done.stderr


def test_it_takes_the_secret_key_from_the_environment():
    done = settings_import(DEBUG="0", SECRET_KEY="k" * 50)
    assert done.returncode == 0 and done.stdout.strip() == "50"


def test_a_session_patch_without_the_csrf_token_is_refused(db):
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.create_user("ana", password="pw"))
    response = client.patch("/api/v1/alerts/summaries/1/", {"status": "fixed"}, content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
