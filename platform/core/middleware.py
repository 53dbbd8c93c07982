"""Checks every request gets before any view reads it, and the JSON shape
of every error under /api/ and /hooks/."""
from __future__ import annotations

from http import HTTPStatus

from django.http import HttpRequest, HttpResponse, JsonResponse

from core.errors import validation_body
from core.text import NUL, NUL_MESSAGE, printable


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


# Where every answer is the API's JSON, errors included (core.errors).
JSON_PREFIXES = ("/api/", "/hooks/")
JSON_TYPES = ("application/json", "application/vnd.oai.openapi+json")


class JsonErrorsMiddleware:
    """Errors under /api/ and /hooks/ that Django answers itself, not a DRF
    view (a path no URL pattern matches, a method a plain view refuses, a
    CSRF failure, an uncaught exception), come as HTML or an empty body: here
    they become the API's JSON error body, {"detail": ...}, with the same
    status and headers (Allow, WWW-Authenticate)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (response.status_code < 400 or not request.path.startswith(JSON_PREFIXES)
                or response.get("Content-Type", "").split(";")[0].strip() in JSON_TYPES):
            return response
        answer = JsonResponse({"detail": self.detail(request, response.status_code)}, status=response.status_code)
        for header in ("Allow", "WWW-Authenticate", "Retry-After"):
            if header in response:
                answer[header] = response[header]
        return answer

    @staticmethod
    def detail(request: HttpRequest, status: int) -> str:
        if status == 404:
            return f"Not found: no API endpoint or object at {printable(request.path)!r}."
        if status == 405:
            return f"Method {request.method} not allowed here."
        if status >= 500:
            return "Internal server error; it has been logged."
        return HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else f"Error {status}."


class OneValuePerParameterMiddleware:
    """No API operation takes a query parameter more than once: `?limit=5&limit=x`
    is a 400 naming it, not a silent pick of one value."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/") and "&" in request.META.get("QUERY_STRING", ""):
            errors = {name: [f"Expected one value; got {len(values)}."]
                      for name, values in request.GET.lists() if len(values) > 1}
            if errors:
                return JsonResponse(validation_body(errors), status=400)
        return self.get_response(request)
