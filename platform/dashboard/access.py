"""The dashboard pages follow the read rule of roofwatch.access: `read_page`
sends visitors who may not read to the login page."""
from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login

from roofwatch.access import may_read


def read_page(view):
    """A page view that sends anonymous visitors to the login page when anonymous reading is off."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not may_read(request.user):
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapped
