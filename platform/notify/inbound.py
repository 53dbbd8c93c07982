"""Inbound CI hooks: which commit to benchmark, and the jobs for it.

Which machines run a pushed commit: every enabled schedule that benchmarks
the project makes one job per enabled machine of its group, with the
schedule's spec. A schedule benchmarks a project when the project has a
benchmark with the schedule's model and params (the project's runs of that
spec have been uploaded before). A project new to roofwatch therefore gets
commit jobs once its first scheduled runs are in.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from engine.models import ModelParamError, UnknownModelError, get_spec
from fleet.jobs import enqueue_commit
from fleet.models import Schedule
from notify.models import InboundDelivery
from results.models import Project, normalize_repository

ZERO_SHA = "0" * 40
PR_ACTIONS = ("opened", "synchronize", "reopened")


class HookRefused(Exception):
    """The hook cannot be processed; `status_code` is the HTTP answer."""

    def __init__(self, message: str, status_code: int = 400) -> None:
        super().__init__(message)
        self.status_code = status_code


@dataclass(frozen=True)
class Target:
    """The commit a hook asks to benchmark; commit "" when the event asks for nothing."""

    commit: str
    branch: str = ""
    build_url: str = ""


def check_repository(project: Project, repository) -> None:
    """The hook URL names the project; a body that names a repository too must name the project's."""
    if repository is None:
        return
    if not isinstance(repository, str) or normalize_repository(repository) != project.repository_url:
        raise HookRefused(f"The body names repository {str(repository)[:200]!r}, but this hook URL is project "
                          f"{project.name!r}'s, of {project.repository_url}.")


def github_repository(payload: dict):
    """repository.html_url of a GitHub event, or None when it names none."""
    repo = payload.get("repository")
    return repo.get("html_url") if isinstance(repo, dict) else None


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def github_target(event: str, payload: dict) -> Target:
    """The commit of a push or pull_request event; Target("") for other events and actions."""
    if event == "push":
        after, ref = payload.get("after"), _text(payload.get("ref"))
        if payload.get("deleted") or after in (None, ZERO_SHA):
            return Target("")
        branch = ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else ""
        return Target(_text(after), branch, _text(payload.get("compare")))
    if event == "pull_request":
        pr = payload.get("pull_request")
        if payload.get("action") not in PR_ACTIONS or not isinstance(pr, dict):
            return Target("")
        head = pr.get("head") if isinstance(pr.get("head"), dict) else {}
        return Target(_text(head.get("sha")), _text(head.get("ref")), _text(pr.get("html_url")))
    return Target("")


def ci_target(payload: dict) -> Target:
    """The target of a generic CI hook body."""
    for name in ("commit", "branch", "build_url"):
        if name in payload and not isinstance(payload[name], str):
            raise HookRefused(f"Expected {name} as a string, got {type(payload[name]).__name__}.")
    if not payload.get("commit"):
        raise HookRefused("Expected commit (a hexadecimal commit id).")
    return Target(payload["commit"], payload.get("branch", "")[:200], payload.get("build_url", "")[:500])


def matching_schedules(project: Project) -> list[Schedule]:
    """The enabled schedules whose (model, params) the project benchmarks,
    defaults filled in on both sides: a schedule may leave params to the model's
    defaults, while its runs' benchmarks store every param."""
    specs = {_frozen(model, params) for model, params in project.benchmarks.values_list("model", "params")}
    return [s for s in Schedule.objects.filter(enabled=True).select_related("group").order_by("pk")
            if _frozen(s.model, s.params) in specs]


def _frozen(model: str, params: dict) -> tuple[str, str]:
    try:
        params = get_spec(model).resolve(params)
    except (UnknownModelError, ModelParamError):  # not a zoo model (an ONNX file's): params as given
        pass
    return model, json.dumps(params, sort_keys=True)


def receive(source: str, delivery_id: str, project: Project, event: str,
            target: Target) -> tuple[InboundDelivery, bool]:
    """Record the delivery and make its jobs, once. Returns (record, new):
    a delivery id seen before makes nothing and returns the first record."""
    try:
        with transaction.atomic():
            record = InboundDelivery.objects.create(
                source=source, delivery_id=delivery_id[:100], project=project, event=event[:50],
                commit=target.commit[:64], branch=target.branch[:200], build_url=target.build_url[:500])
            if target.commit:
                made = 0
                for schedule in matching_schedules(project):
                    made += len(enqueue_commit(schedule.group.machines.filter(enabled=True), project.repository_url,
                                               target.commit, under_test=project.under_test,
                                               **schedule.spec()))
                record.jobs_created = made
                record.save(update_fields=["jobs_created"])
    except ValidationError as exc:
        raise HookRefused("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from None
    except IntegrityError:
        first = InboundDelivery.objects.filter(source=source, delivery_id=delivery_id[:100]).first()
        if first is None:
            raise
        if first.project_id != project.pk:  # say nothing of the other project's delivery
            raise HookRefused(f"Delivery id {delivery_id[:100]!r} was used by another project; "
                              f"give each delivery a unique id.", status_code=409) from None
        return first, False
    return record, True
