"""`manage.py webhook_secret PROJECT`: create (or rotate) the secret a
project's CI signs inbound hooks with, and print it once."""
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
        self.stderr.write(f"Webhook secret of {found.name!r}: set it as the secret of the GitHub webhook "
                          f"(POST /hooks/github/) or your CI's signing key (POST /hooks/ci/). "
                          f"It will not be shown again.")
