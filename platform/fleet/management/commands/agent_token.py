"""`manage.py agent_token MACHINE_NAME [--project P ...] [--may-create-projects]
[--all-projects] [--revoke]`: give a machine a new agent token (creating the
machine if it is new), or revoke its token.

A machine posts runs only to the projects it is granted (results.project_scope):
--project adds one (a name, or a repository URL, created if new); the two flags
let it create projects, or post to every project. Grants are only ever added here;
the admin's machine page edits them.

The token goes alone to stdout, once, so it can be captured:
    TOKEN=$(python manage.py agent_token gpu-box-1)
Only its SHA-256 is stored; running the command again rotates it.
"""
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from fleet.management.project_option import add_project_option, named_projects
from fleet.models import Machine


class Command(BaseCommand):
    help = "Create or rotate a machine's agent token (printed once), or revoke it with --revoke."

    def add_arguments(self, parser):
        parser.add_argument("name", metavar="MACHINE_NAME", help="the machine's name in the fleet")
        parser.add_argument("--revoke", action="store_true", help="clear the machine's token; its agent gets 401")
        add_project_option(parser, "the machine")
        parser.add_argument("--may-create-projects", action="store_true",
                            help="its first run of a repository no project has creates that project for it")
        parser.add_argument("--all-projects", action="store_true",
                            help="it may post runs to every project and create new ones (a fleet one team owns)")

    def handle(self, *args, name: str, revoke: bool, projects: list[str], may_create_projects: bool,
               all_projects: bool, **options):
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
            self._grant(machine, named_projects(projects), may_create_projects, all_projects)
            token = machine.rotate_token()
        action = "Created machine" if created else "Rotated the token of machine"
        self.stderr.write(f"{action} {name!r}. The token below is shown once; only its hash is stored.")
        self.stdout.write(token)

    def _grant(self, machine: Machine, projects: list, may_create_projects: bool, all_projects: bool) -> None:
        for project in projects:
            project.machines.add(machine)
        machine.may_create_projects |= may_create_projects
        machine.all_projects |= all_projects
        machine.save(update_fields=["may_create_projects", "all_projects"])
        if machine.all_projects:
            scope = "every project"
        else:
            names = [project.name for project in machine.projects.all()]
            scope = ", ".join(repr(n) for n in names) if names else "no project yet (grant one with --project)"
            scope += "; it may create projects" if machine.may_create_projects else ""
        self.stderr.write(f"Machine {machine.name!r} may post runs to {scope}.")
