"""Who may read the dashboard: everyone while ROOFWATCH_ANONYMOUS_READ is on
(the default), signed-in users otherwise. Writing (triage) always needs a
signed-in user; the alerts API enforces that itself."""
from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from rest_framework.permissions import BasePermission


def anonymous_read() -> bool:
    return bool(getattr(settings, "ROOFWATCH_ANONYMOUS_READ", True))


def may_read(user) -> bool:
    return anonymous_read() or user.is_authenticated


def read_page(view):
    """A page view that sends anonymous visitors to the login page when anonymous reading is off."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not may_read(request.user):
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapped


class MayRead(BasePermission):
    """The dashboard's JSON views: the same rule as its pages."""

    message = "Sign in to read the dashboard (ROOFWATCH_ANONYMOUS_READ is off)."

    def has_permission(self, request, view) -> bool:
        return may_read(request.user)
