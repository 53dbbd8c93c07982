"""Checks every request gets before any view reads it."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse

from core.errors import validation_body
from core.text import NUL, NUL_MESSAGE


class RefuseNulMiddleware:
    """A NUL (0x00) in the path or the query string is refused here, for the
    API, /dash-api/ and the pages alike: PostgreSQL refuses NUL even as a query
    parameter, so a view that looked a name up with it would fail with a 500.

    The path: 404, since no stored name holds a NUL. The query string: 400
    naming each parameter, in the API's error body (core.errors)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path:
            return JsonResponse({"detail": f"Not found: no path contains {NUL}."}, status=404)
        if "%00" in request.META.get("QUERY_STRING", ""):  # how a NUL comes in a query string
            errors = {name: [NUL_MESSAGE] for name, values in request.GET.lists()
                      if "\x00" in name or any("\x00" in value for value in values)}
            if errors:
                return JsonResponse(validation_body(errors), status=400)
        return self.get_response(request)
