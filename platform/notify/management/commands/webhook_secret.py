"""`manage.py webhook_secret PROJECT`: create (or rotate) the secret a
project's CI signs inbound hooks with, and print it once."""
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from notify.models import WebhookSecret
from results.models import Project


class Command(BaseCommand):
    help = "Create or rotate a project's inbound webhook secret; it is printed once and never shown again."

    def add_arguments(self, parser):
        parser.add_argument("project", help="project name (or its repository URL)")
        parser.add_argument("--rotate", action="store_true",
                            help="replace an existing secret (the old one stops working)")

    def handle(self, project, rotate, **options):
        found = Project.objects.filter(name=project).first() or Project.objects.filter(repository_url=project).first()
        if found is None:
            names = ", ".join(Project.objects.values_list("name", flat=True)[:20]) or "none yet"
            raise CommandError(f"No project named {project!r} (projects: {names}).")
        if WebhookSecret.objects.filter(project=found).exists() and not rotate:
            raise CommandError(f"Project {found.name!r} already has a webhook secret; it cannot be shown again. "
                               f"Give --rotate to replace it (then update the CI's copy).")
        secret = WebhookSecret.rotate(found)
        self.stdout.write(secret)
        site = settings.SITE_URL.rstrip("/")
        self.stderr.write(f"Webhook secret of {found.name!r} (project id {found.pk}): set it as the secret of "
                          f"the GitHub webhook with payload URL {site}/hooks/github/{found.pk}/, or as your CI's "
                          f"signing key for POST {site}/hooks/ci/{found.pk}/. It will not be shown again.")
