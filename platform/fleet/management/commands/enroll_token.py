"""`manage.py enroll_token [--label L] [--max-uses N] [--expires-days D] [--project P ...]`:
issue an enrollment token, with which agents register their machines
themselves (`roofwatch-agent register`, POST /api/v1/agents/register).

The machines it registers may post runs to its --project projects (a name,
or a repository URL, created if new). A token without projects registers
machines that may post nowhere until an operator grants them projects.

The token goes alone to stdout, once, so it can be captured:
    ENROLL=$(python manage.py enroll_token --label rack-7 --max-uses 20 --project https://github.com/acme/models)
Only its SHA-256 is stored. `--list` shows the issued tokens, `--revoke ID` stops one.
"""
from argparse import ArgumentTypeError
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from fleet.management.project_option import add_project_option, named_projects
from fleet.models import EnrollmentToken


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


class Command(BaseCommand):
    help = "Issue an enrollment token for agent self-registration (printed once); --list or --revoke ID."

    def add_arguments(self, parser):
        parser.add_argument("--label", default="", help="what the token is for, e.g. 'rack-7'")
        parser.add_argument("--max-uses", type=_positive_int, help="registrations allowed (default: unlimited)")
        parser.add_argument("--expires-days", type=_positive_int, help="days until it expires (default: never)")
        add_project_option(parser, "machines registering with it")
        parser.add_argument(
            "--list", dest="list_tokens", action="store_true", help="list issued tokens instead (no secrets)"
        )
        parser.add_argument("--revoke", type=int, metavar="ID", help="revoke the token with this id instead")

    def handle(self, *args, label: str, max_uses, expires_days, projects: list[str], list_tokens: bool, revoke,
               **options):
        if list_tokens:
            return self._list()
        if revoke is not None:
            return self._revoke(revoke)
        max_length = EnrollmentToken._meta.get_field("label").max_length
        if len(label) > max_length:
            raise CommandError(f"--label is longer than {max_length} characters.")
        expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
        with transaction.atomic():
            token, secret = EnrollmentToken.issue(label=label, max_uses=max_uses, expires_at=expires_at)
            granted = named_projects(projects)
            for project in granted:
                project.enrollment_tokens.add(token)
        limits = [f"max {max_uses} uses" if max_uses else "unlimited uses"]
        limits.append(f"expires {expires_at.isoformat()}" if expires_at else "never expires")
        limits.append("projects " + ", ".join(repr(p.name) for p in granted) if granted else
                      "no projects: its machines may post runs nowhere until an operator grants them projects")
        self.stderr.write(
            f"Issued {token} ({', '.join(limits)}). The token below is shown once; only its hash is stored."
        )
        self.stdout.write(secret)

    def _list(self) -> None:
        now = timezone.now()
        for token in EnrollmentToken.objects.all():
            uses = f"{token.uses}/{token.max_uses}" if token.max_uses is not None else f"{token.uses}/unlimited"
            expires = token.expires_at.isoformat() if token.expires_at else "never"
            state = token.refusal(now) or "usable"
            self.stdout.write(f"{token.pk}\t{token.label or '-'}\tuses {uses}\texpires {expires}\t{state}")

    def _revoke(self, pk: int) -> None:
        updated = EnrollmentToken.objects.filter(pk=pk).update(revoked=True)
        if not updated:
            raise CommandError(f"No enrollment token with id {pk} (see --list).")
        self.stderr.write(f"Revoked enrollment token {pk}; registrations with it now get 401.")
