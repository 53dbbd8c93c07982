"""Who may read: everyone while ROOFWATCH_ANONYMOUS_READ is on (the default);
otherwise signed-in users and fleet machines (their agent token). One rule for
the dashboard pages (`read_page`), their JSON and the public read API
(`MayRead`). Writing has rules of its own: ingest and jobs need a machine
token, triage a signed-in user.

Anonymous readers never see what processes wrote (a job's error and stderr
tail) or who people are (user names of triagers): `sees_private` says who
does, `HidesPrivateFields` nulls such fields in API answers."""
from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.views import redirect_to_login
from rest_framework.permissions import SAFE_METHODS, BasePermission


def anonymous_read() -> bool:
    return bool(getattr(settings, "ROOFWATCH_ANONYMOUS_READ", True))


def may_read(user) -> bool:
    return anonymous_read() or user.is_authenticated


def sees_private(user) -> bool:
    """Whether a reader sees job error and stderr tails and user names: a
    signed-in user or a fleet machine (MachineUser), never an anonymous reader."""
    return user is not None and user.is_authenticated


class HidesPrivateFields:
    """A serializer mixin: the fields named in `private_fields` are null unless
    the request's reader sees_private. Without a request in the serializer's
    context they are null too."""

    private_fields: tuple[str, ...] = ()

    def to_representation(self, instance):
        data = super().to_representation(instance)
        request = self.context.get("request")
        if request is None or not sees_private(request.user):
            for name in self.private_fields:
                data[name] = None
        return data


class MayRead(BasePermission):
    """The read API's default permission (settings.REST_FRAMEWORK)."""

    message = "Sign in or send an agent token to read (ROOFWATCH_ANONYMOUS_READ is off)."

    def has_permission(self, request, view) -> bool:
        return may_read(request.user)


class ReadOrSignedInUserWrites(MayRead):
    """Reading as MayRead; writing (triage) only by a signed-in person, never a machine."""

    message = "Sign in to change this."

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return super().has_permission(request, view)
        return isinstance(request.user, get_user_model()) and request.user.is_authenticated


def read_page(view):
    """A page view that sends anonymous visitors to the login page when anonymous reading is off."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not may_read(request.user):
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapped
