"""`manage.py webhook_secret PROJECT` shows a new secret once; it is never
shown again (a second call refuses unless --rotate, and admin hides it)."""
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from notify.models import WebhookSecret


def run(*args, err: StringIO | None = None) -> str:
    out = StringIO()
    call_command("webhook_secret", *args, stdout=out, stderr=err or StringIO())
    return out.getvalue().strip()


def test_it_prints_the_new_secret_once_with_the_projects_hook_urls(project, settings):
    settings.SITE_URL = "https://roofwatch.example.com/"
    err = StringIO()
    secret = run(project.name, err=err)
    assert f"https://roofwatch.example.com/hooks/github/{project.pk}/" in err.getvalue()
    assert f"https://roofwatch.example.com/hooks/ci/{project.pk}/" in err.getvalue()
    assert secret.startswith("rwh_") and WebhookSecret.objects.get().secret == secret
    with pytest.raises(CommandError, match="cannot be shown again.*--rotate"):
        run(project.name)


def test_rotate_replaces_the_secret(project):
    first = run(project.name)
    second = run(project.name, "--rotate")
    assert second != first and WebhookSecret.objects.get().secret == second


def test_it_names_an_unknown_project(project):
    with pytest.raises(CommandError, match="No project named 'nope'.*example/roofwatch-models"):
        run("nope")


def test_admin_never_shows_the_secret(admin_client, secret):
    page = admin_client.get(f"/admin/notify/webhooksecret/{WebhookSecret.objects.get().pk}/change/")
    assert page.status_code == 200
    assert secret not in page.content.decode()
