"""The admin lists groups, schedules and jobs with filters, checks a schedule's
spec, queues a schedule now, and cancels jobs; it never shows or edits leases."""
import pytest

from fleet.models import CANCELLED, DONE, Job, MachineGroup, Schedule

from .job_fixtures import *  # noqa: F403
from .job_fixtures import SPEC, make_job


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("admin", "admin@example.com", "pw-for-tests"))
    return client


@pytest.fixture
def group(machine) -> MachineGroup:
    group = MachineGroup.objects.create(name="rack-7")
    group.machines.add(machine)
    return group


@pytest.mark.parametrize(
    "page",
    [
        "/admin/fleet/machinegroup/",
        "/admin/fleet/machinegroup/add/",
        "/admin/fleet/schedule/",
        "/admin/fleet/schedule/?enabled__exact=1",
        "/admin/fleet/schedule/add/",
        "/admin/fleet/job/",
        "/admin/fleet/job/?status__exact=queued&kind__exact=schedule",
        "/admin/fleet/job/?q=mlp",
    ],
)
def test_the_admin_pages_render(admin_client, group, machine, page):
    Schedule.objects.create(name="nightly", group=group, **SPEC)
    make_job(machine)
    assert admin_client.get(page).status_code == 200


def test_a_job_page_is_read_only_and_shows_no_lease(admin_client, agent, machine):
    job = make_job(machine)
    lease = agent.claim().json()["lease"]
    page = admin_client.get(f"/admin/fleet/job/{job.pk}/change/").content.decode()
    assert 'name="_save"' not in page
    assert lease not in page and Job.objects.get().lease_hash not in page
    assert admin_client.get("/admin/fleet/job/add/").status_code == 403


def test_a_schedule_with_a_bad_config_is_refused_by_the_form(admin_client, group):
    form = {"name": "bad", "group": group.pk, "model": "mlp", "params": "{}", "config": '{"passes": "fuse"}',
            "warmup": 1, "repeats": 1, "timeout_seconds": 60, "interval_seconds": 3600, "enabled": "on"}
    response = admin_client.post("/admin/fleet/schedule/add/", form)
    assert response.status_code == 200  # the form again, with the error
    assert "passes: expected an array of strings" in response.content.decode()
    assert not Schedule.objects.exists()
    form["config"] = '{"passes": ["fuse_gemm_bias"]}'
    assert admin_client.post("/admin/fleet/schedule/add/", form).status_code == 302
    assert Schedule.objects.get().config == {"passes": ["fuse_gemm_bias"]}


def test_queue_now_makes_jobs_for_the_selected_schedule(admin_client, group):
    schedule = Schedule.objects.create(name="nightly", group=group, **SPEC)
    admin_client.post("/admin/fleet/schedule/", {"action": "enqueue_now", "_selected_action": [schedule.pk]})
    admin_client.post("/admin/fleet/schedule/", {"action": "enqueue_now", "_selected_action": [schedule.pk]})
    assert Job.objects.filter(schedule=schedule).count() == 1  # the machine's job is still unfinished


def test_cancel_stops_unfinished_jobs_only(admin_client, agent, machine):
    queued, done = make_job(machine), make_job(machine, status=DONE)
    response = admin_client.post("/admin/fleet/job/", {"action": "cancel_jobs",
                                                      "_selected_action": [queued.pk, done.pk]})
    assert response.status_code == 302
    assert dict(Job.objects.values_list("pk", "status")) == {queued.pk: CANCELLED, done.pk: DONE}
    assert agent.claim().status_code == 204
