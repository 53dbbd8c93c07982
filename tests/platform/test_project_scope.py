"""A machine posts runs only to the projects it is granted (results.project_scope):
a run for another project is 403 naming that project and stores nothing, alone
or in a batch; only a machine that may create projects makes a new one."""
from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from fleet.models import EnrollmentToken, Machine
from results.models import Project, Run
from tests.platform.test_enrollment import _register
from tests.platform.test_ingest_batch import BATCH_URL
from tests.report_factory import DEFAULT_REPOSITORY, make_report

from .conftest import row_counts

OTHER = "https://github.com/example/someone-elses"


@pytest.fixture
def project(db) -> Project:
    return Project.objects.create(name="example/roofwatch-models", repository_url=DEFAULT_REPOSITORY)


def _report(repository: str = DEFAULT_REPOSITORY, **fields) -> dict:
    return make_report(source={"repository": repository}, **fields)


def test_a_machine_posts_to_a_granted_project(scoped_machines, upload, machine, project):
    project.machines.add(machine)
    assert upload(_report()).status_code == 201
    assert Run.objects.get().benchmark.project == project


def test_a_project_not_granted_is_403_naming_it_and_nothing_is_stored(scoped_machines, upload, machine, project):
    Project.objects.create(name="example/someone-elses", repository_url=OTHER).machines.add(machine)
    before = row_counts()
    response = upload(_report())
    assert response.status_code == 403
    assert response.json()["detail"] == (
        f"Machine 'm1' may not post runs to project 'example/roofwatch-models' ({DEFAULT_REPOSITORY}); an operator "
        "can allow it in the admin (the machine's projects) or with `manage.py agent_token m1 --project REPO`."
    )
    assert row_counts() == before and Machine.objects.get().last_seen is None


def test_an_unknown_repository_creates_no_project_for_a_machine_that_may_not(scoped_machines, upload, machine):
    response = upload(_report("https://github.com/example/new/"))
    assert response.status_code == 403
    assert response.json()["detail"].startswith(
        "No project has repository 'https://github.com/example/new' and machine 'm1' may not create projects; "
    )
    assert not Project.objects.exists() and not Run.objects.exists()


def test_a_machine_that_may_create_projects_gets_the_one_it_created(scoped_machines, upload, machine, project):
    Machine.objects.filter(pk=machine.pk).update(may_create_projects=True)
    assert upload(_report(OTHER)).status_code == 201
    created = Project.objects.get(repository_url=OTHER)
    assert list(created.machines.all()) == [machine]
    assert upload(_report()).status_code == 403  # creating its own is not posting to others'
    intruder = Machine.objects.create(name="m2", fingerprint="fp-m2", may_create_projects=True)
    response = upload(_report(OTHER, fingerprint="fp-m2"), token=intruder.rotate_token())
    assert response.status_code == 403 and "'m2' may not post runs to project" in response.json()["detail"]


def test_a_batch_answers_a_project_not_granted_per_report(scoped_machines, client, token, machine, project):
    project.machines.add(machine)
    reports = [_report(layers=1), _report(OTHER, layers=1)]
    response = client.post(BATCH_URL, {"reports": reports}, content_type="application/json",
                           HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200
    first, second = response.json()["results"]
    assert first["status"] == 201
    assert second["status"] == 403 and "'https://github.com/example/someone-elses'" in second["detail"]
    assert list(Run.objects.values_list("benchmark__project__name", flat=True)) == ["example/roofwatch-models"]


def test_a_machine_for_every_project_posts_anywhere(scoped_machines, upload, machine, project):
    Machine.objects.filter(pk=machine.pk).update(all_projects=True)
    assert [upload(_report(repo)).status_code for repo in (DEFAULT_REPOSITORY, OTHER)] == [201, 201]
    assert not project.machines.exists()  # it needs no grants


def _command(name: str, *args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(name, *args, stdout=out, stderr=err)
    return out.getvalue().strip(), err.getvalue()


def test_an_enrollment_tokens_projects_are_its_machines_projects(scoped_machines, client, project):
    secret, notice = _command("enroll_token", "--project", project.name, "--project", OTHER)
    assert "projects 'example/roofwatch-models', 'example/someone-elses'" in notice
    token = _register(client, secret, fingerprint="fp-test-1").json()["token"]
    machine = Machine.objects.get(name="edge-1")
    assert sorted(p.repository_url for p in machine.projects.all()) == [DEFAULT_REPOSITORY, OTHER]
    assert client.post("/api/v1/runs/", _report(), content_type="application/json",
                       HTTP_AUTHORIZATION=f"Token {token}").status_code == 201


def test_a_token_without_projects_enrolls_machines_that_may_post_nowhere(scoped_machines, client, project):
    secret, notice = _command("enroll_token")
    assert "no projects: its machines may post runs nowhere" in notice
    token = _register(client, secret, fingerprint="fp-test-1").json()["token"]
    assert not Machine.objects.get().projects.exists()
    assert client.post("/api/v1/runs/", _report(), content_type="application/json",
                       HTTP_AUTHORIZATION=f"Token {token}").status_code == 403
    assert set(EnrollmentToken.objects.get().projects.all()) == set()


def test_agent_token_grants_projects_and_flags(scoped_machines, upload, project):
    token, notice = _command("agent_token", "box-1", "--project", DEFAULT_REPOSITORY)
    assert "Machine 'box-1' may post runs to 'example/roofwatch-models'." in notice
    assert upload(_report(), token=token).status_code == 201
    assert upload(_report(OTHER), token=token).status_code == 403
    token, notice = _command("agent_token", "box-1", "--may-create-projects")
    assert "'example/roofwatch-models'; it may create projects" in notice
    assert upload(_report(OTHER), token=token).status_code == 201


def test_the_admin_edits_a_machines_projects(scoped_machines, client, django_user_model, machine, project):
    client.force_login(django_user_model.objects.create_superuser("admin", "a@example.com", "pw-for-tests"))
    page = client.get(f"/admin/fleet/machine/{machine.pk}/change/").content.decode().lower()
    assert "projects this machine may post runs to" in page and "example/roofwatch-models" in page
    token_page = client.get("/admin/fleet/enrollmenttoken/{}/change/".format(EnrollmentToken.issue()[0].pk))
    assert "projects machines registering with this token may post runs to" in token_page.content.decode().lower()
