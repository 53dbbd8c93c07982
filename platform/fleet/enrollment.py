"""Agent self-registration: an agent holding an enrollment token gets its
machine created (or, on the same hardware, its token rotated) and a machine
token back.

Re-enrolling a machine that exists rotates its token, so it needs more than
an enrollment token: the machine's current agent token, or an operator's
one-time approval (Machine.reenroll_until, the admin action "Allow
re-enrollment"). A new machine gets the projects of the enrollment token it
used (machine_enrolled; results keeps the projects).

`enroll_machine(secret, name, fingerprint, presented)` is the one entry point;
the API view only validates the body's shape and maps the errors below to statuses.
"""
from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from fleet.models import EnrollmentToken, Machine, hash_token
from fleet.signals import machine_enrolled


class EnrollmentRefused(Exception):
    """The registration cannot be done; `status_code` is the HTTP answer."""

    status_code = 400


class BadEnrollmentToken(EnrollmentRefused):
    """Unknown, revoked, expired or used-up enrollment token."""

    status_code = 401


class MachineDisabled(EnrollmentRefused):
    status_code = 403


class ReenrollmentNotAllowed(EnrollmentRefused):
    """The machine exists and the request has neither its token nor an operator's approval."""

    status_code = 403


class MachineNameTaken(EnrollmentRefused):
    """The name or the fingerprint belongs to another machine."""

    status_code = 409


def enroll_machine(secret: str, name: str, fingerprint: str,
                   presented: Machine | None = None) -> tuple[Machine, str, bool]:
    """Register machine `name` with hardware `fingerprint` using enrollment token `secret`.

    Returns (machine, new machine token, created). A machine of that name and
    fingerprint gets its token rotated (re-enrollment, e.g. after a reinstall)
    when `presented`, the machine whose agent token came with the request, is
    that machine, or an operator allowed it (consumed here). The enrollment
    token row is locked for the whole transaction, so concurrent registrations
    never exceed its max_uses. Nothing is written on refusal.
    """
    with transaction.atomic():
        enrollment = EnrollmentToken.objects.select_for_update().filter(token_hash=hash_token(secret)).first()
        if enrollment is None:
            raise BadEnrollmentToken("Invalid enrollment token: unknown (create one with `manage.py enroll_token`).")
        refusal = enrollment.refusal()
        if refusal:
            raise BadEnrollmentToken(refusal)
        machine = Machine.objects.select_for_update().filter(name=name).first()
        created = machine is None
        if created:
            machine = _create_machine(name, fingerprint)
            machine_enrolled.send(Machine, machine=machine, enrollment_token=enrollment)
        else:
            _check_same_machine(machine, fingerprint)
            _check_may_reenroll(machine, presented)
        token = machine.rotate_token()
        enrollment.record_use()
    return machine, token, created


def _create_machine(name: str, fingerprint: str) -> Machine:
    owner = Machine.objects.filter(fingerprint=fingerprint).first()
    if owner is not None:
        raise MachineNameTaken(
            f"fingerprint {fingerprint!r} is already enrolled as machine {owner.name!r}; "
            f"register with name {owner.name!r} to re-enroll it."
        )
    try:
        with transaction.atomic():  # a savepoint: a concurrent registration may take the name or fingerprint
            return Machine.objects.create(name=name, fingerprint=fingerprint)
    except IntegrityError:
        raise MachineNameTaken(
            f"machine {name!r} or fingerprint {fingerprint!r} was just registered by another agent."
        ) from None


def _check_same_machine(machine: Machine, fingerprint: str) -> None:
    if machine.fingerprint != fingerprint:
        # The fingerprint itself is not shown: only signed-in users see fingerprints.
        known = "another fingerprint" if machine.fingerprint else "fingerprint none yet (created with agent_token)"
        raise MachineNameTaken(
            f"machine name {machine.name!r} is taken by another machine ({known}); choose another name."
        )
    if not machine.enabled:
        raise MachineDisabled(f"Machine {machine.name!r} is disabled; an operator must enable it before it re-enrolls.")


def _check_may_reenroll(machine: Machine, presented: Machine | None) -> None:
    if presented is not None and presented.pk == machine.pk:
        return
    if machine.reenroll_until is not None and machine.reenroll_until > timezone.now():
        machine.reenroll_until = None  # one re-enrollment per approval
        machine.save(update_fields=["reenroll_until"])
        return
    if presented is not None:
        raise ReenrollmentNotAllowed(
            f"The agent token sent is machine {presented.name!r}'s, not {machine.name!r}'s; nothing was changed."
        )
    raise ReenrollmentNotAllowed(
        f"Machine {machine.name!r} is already enrolled: re-enrolling it needs its current agent token "
        f"(Authorization: Token <token>) or an operator's approval (admin: Machines, action \"Allow "
        f"re-enrollment\"); nothing was changed."
    )
