"""Which projects a machine may post runs to.

An operator grants projects to machines (Project.machines: the admin's
machine and project pages, `agent_token --project`), and a machine that
registers itself gets those of its enrollment token (Project.enrollment_tokens,
`enroll_token --project`; a token with none grants none). A run for any other
project is refused with 403 and nothing of it is stored.

A repository that no project has yet creates a project only for a machine
that may create projects (Machine.may_create_projects: it is then granted the
new project) or may post to every project (Machine.all_projects).
"""
from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import PermissionDenied

from core.errors import Refused
from fleet.models import EnrollmentToken, Machine
from results.models import Project

GRANT_HINT = (
    "an operator can allow it in the admin (the machine's projects) or with `manage.py agent_token {} --project REPO`"
)


class ProjectNotAllowed(Refused, PermissionDenied):
    """The machine may not post runs to the report's project."""

    status_code = 403


class ProjectScope:
    """The projects `machine` may post runs to, of the repository URLs
    (normalized) of one upload; `check(url)` raises ProjectNotAllowed for one
    it may not. `known` holds those with a project, as the upload's lookup
    found them (results.ingest_lookup); `new_urls` are those no project has
    yet: the upload creates their projects."""

    def __init__(self, machine: Machine, urls: Iterable[str], known: dict[str, tuple[str, bool]]) -> None:
        self.machine = machine
        urls = set(urls)
        self.new_urls = urls - set(known)
        self.refusals = {} if machine.all_projects else _refusals(machine, known, self.new_urls)

    def check(self, url: str) -> None:
        if url in self.refusals:
            raise self.refusals[url]

    def grant_created(self) -> None:
        """A machine that may create projects keeps the ones this upload created
        (nothing to do, and no query, when every project existed before)."""
        if self.new_urls and self.machine.may_create_projects and not self.machine.all_projects:
            self.machine.projects.add(*Project.objects.filter(repository_url__in=self.new_urls))


def _refusals(machine: Machine, known: dict[str, tuple[str, bool]], new_urls: set[str]) -> dict[str, ProjectNotAllowed]:
    hint = GRANT_HINT.format(machine.name)
    refusals = {}
    if not machine.may_create_projects:
        for url in new_urls:
            refusals[url] = ProjectNotAllowed(
                f"No project has repository {url!r} and machine {machine.name!r} may not create projects; "
                f"{hint}, which creates it."
            )
    for url, (name, ok) in known.items():
        if not ok:
            refusals[url] = ProjectNotAllowed(
                f"Machine {machine.name!r} may not post runs to project {name!r} ({url}); {hint}."
            )
    return refusals


def grant_enrollment_projects(sender, machine: Machine, enrollment_token: EnrollmentToken, **kwargs) -> None:
    """fleet's machine_enrolled: a new machine may post to its enrollment token's projects."""
    machine.projects.add(*enrollment_token.projects.all())
