"""`manage.py agent_token MACHINE_NAME [--revoke]`: give a machine a new agent
token (creating the machine if it is new), or revoke its token.

The token goes alone to stdout, once, so it can be captured:
    TOKEN=$(python manage.py agent_token gpu-box-1)
Only its SHA-256 is stored; running the command again rotates it.
"""
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from fleet.models import Machine


class Command(BaseCommand):
    help = "Create or rotate a machine's agent token (printed once), or revoke it with --revoke."

    def add_arguments(self, parser):
        parser.add_argument("name", metavar="MACHINE_NAME", help="the machine's name in the fleet")
        parser.add_argument("--revoke", action="store_true", help="clear the machine's token; its agent gets 401")

    def handle(self, *args, name: str, revoke: bool, **options):
        name = name.strip()
        if not name:
            raise CommandError("MACHINE_NAME must not be blank.")
        if len(name) > Machine._meta.get_field("name").max_length:
            raise CommandError(f"MACHINE_NAME {name!r} is longer than {Machine._meta.get_field('name').max_length}.")
        if revoke:
            machine = Machine.objects.filter(name=name).first()
            if machine is None:
                raise CommandError(f"No machine named {name!r}.")
            machine.revoke_token()
            self.stderr.write(f"Revoked the token of machine {name!r}.")
            return
        with transaction.atomic():
            machine, created = Machine.objects.get_or_create(name=name)
            token = machine.rotate_token()
        action = "Created machine" if created else "Rotated the token of machine"
        self.stderr.write(f"{action} {name!r}. The token below is shown once; only its hash is stored.")
        self.stdout.write(token)
