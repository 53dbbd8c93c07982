"""Agent authentication: `Authorization: Token <token>`, looked up by its hash.
An Authorization header of any other scheme (`Bearer x`) is a 401, never anonymous.

A request that authenticates this way has `request.auth` = the Machine and
`request.user` = a MachineUser standing for it.

The Machine model belongs to the fleet app, which core may not import (core
sits below every app). It is resolved by its label when a request needs it,
through Django's app registry, so this module imports no app at all.
"""
from __future__ import annotations

from django.apps import apps
from django.db import models
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from core import ratelimit

MACHINE_MODEL = "fleet.Machine"
RATE_SCOPE = "agent-token"

KEYWORD = "Token"
MISSING_TOKEN = (
    f"Send the machine's agent token as 'Authorization: {KEYWORD} <token>' "
    "(create one with `manage.py agent_token MACHINE_NAME`)."
)


def machine_model() -> type[models.Model]:
    return apps.get_model(MACHINE_MODEL)


class MachineUser:
    """The request.user of an agent request: authenticated, but no Django user."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None

    def __init__(self, machine: models.Model) -> None:
        self.machine = machine

    def __str__(self) -> str:
        return f"machine {self.machine.name}"


class MachineTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header:
            return None  # anonymous, unless the session knows the user
        if header[0].lower() != KEYWORD.lower().encode():
            # No other scheme is understood: reading anonymously instead would hide the client's mistake.
            scheme = header[0].decode("ascii", "backslashreplace")[:40]
            raise exceptions.AuthenticationFailed(
                f"Unsupported Authorization scheme {scheme!r}: send '{KEYWORD} <token>' (an agent token), "
                "or no Authorization header and a signed-in session."
            )
        try:
            machine = self._machine(header)
        except exceptions.AuthenticationFailed:
            # The token first: a good one is never throttled, however many bad ones share its address.
            if ratelimit.refuse_failure(RATE_SCOPE, request):
                raise exceptions.Throttled(detail="Too many failed token authentications from this address; "
                                                  "wait and retry.") from None
            raise
        return MachineUser(machine), machine

    @staticmethod
    def _machine(header: list[bytes]) -> models.Model:
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                f"Invalid Authorization header: expected '{KEYWORD} <token>' with one token and no spaces."
            )
        try:
            token = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token: it must be ASCII.") from None
        machine = machine_model().with_token(token)
        if machine is None:
            raise exceptions.AuthenticationFailed("Invalid token: no machine has it (unknown, rotated or revoked).")
        if not machine.enabled:
            raise exceptions.AuthenticationFailed(f"Machine {machine.name!r} is disabled.")
        return machine

    def authenticate_header(self, request) -> str:
        return KEYWORD


class IsFleetMachine(permissions.BasePermission):
    """Only requests authenticated with an agent token."""

    message = "Only fleet machines may do this: authenticate with an agent token, not a user session."

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, machine_model())


class MachineTokenScheme(OpenApiAuthenticationExtension):
    """Describes the agent token in the OpenAPI schema (drf-spectacular)."""

    target_class = MachineTokenAuthentication
    name = "agentToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": f"'{KEYWORD} <token>', a machine's agent token from `manage.py agent_token`.",
        }
