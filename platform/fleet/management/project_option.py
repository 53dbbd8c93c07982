"""`--project NAME_OR_REPOSITORY` (repeatable) of the commands that grant machines
projects (`agent_token`, `enroll_token`). Projects are results' (fleet imports no
app), so they are found through the app registry, like fleet.jobs finds runs."""
from django.apps import apps
from django.core.management.base import CommandError


def add_project_option(parser, what: str) -> None:
    parser.add_argument(
        "--project", dest="projects", action="append", default=[], metavar="NAME_OR_REPOSITORY",
        help=f"{what} may post runs to this project: a project name, or a repository URL (a new one is created); "
             "repeat for several",
    )


def named_projects(texts: list[str]) -> list:
    """The projects `texts` name, created by repository URL where new (results.Project.named)."""
    if any(not text.strip() for text in texts):
        raise CommandError("--project must not be blank.")
    try:
        project_model = apps.get_model("results", "Project")
    except LookupError:
        raise CommandError("--project needs the results app, which holds the projects.") from None
    longest = project_model._meta.get_field("repository_url").max_length
    if any(len(text) > longest for text in texts):
        raise CommandError(f"--project is longer than {longest} characters.")
    return [project_model.named(text.strip()) for text in texts]
