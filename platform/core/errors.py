"""API error bodies. Every error is JSON with a `detail` message; a 400 from
validation also carries `errors`, one flattened field path per problem:

    {"detail": "Invalid input: 2 errors; layers[3].time.median: Ensure ...",
     "errors": {"layers[3].time.median": ["Ensure this value is greater than or equal to 0."],
                "schema": ["..."]}}
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from core.text import printable


class Refused(Exception):
    """A request the API refuses with a plain `detail` message (no field
    errors); `status_code` is the HTTP answer."""

    status_code = 400


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "payload_too_large"


class ApiErrorSerializer(serializers.Serializer):
    """Every error answer of the API; `errors` only on validation errors (400)."""

    detail = serializers.CharField()
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text='messages by field path, e.g. "layers[3].time.median"',
    )


def error_responses(descriptions: dict[int, str]) -> dict[int, OpenApiResponse]:
    """OpenAPI responses of an endpoint's errors, {status: description}."""
    return {code: OpenApiResponse(ApiErrorSerializer, description=text) for code, text in descriptions.items()}


def flatten_errors(detail: Any) -> dict[str, list[str]]:
    """DRF's nested error detail as {"a.b[2].c": [messages]}. Errors of an object
    itself (non_field_errors) go under the object's path; at the top level
    under "non_field_errors"."""
    flat: dict[str, list[str]] = {}

    def add(path: str, message: Any) -> None:
        flat.setdefault(path or api_settings.NON_FIELD_ERRORS_KEY, []).append(str(message))

    def walk(node: Any, path: str) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                if key == api_settings.NON_FIELD_ERRORS_KEY:
                    walk(value, path)
                elif isinstance(key, int):
                    walk(value, f"{path}[{key}]")
                else:
                    walk(value, f"{path}.{key}" if path else str(key))
        elif isinstance(node, (list, tuple)):
            for i, item in enumerate(node):
                if isinstance(item, (Mapping, list, tuple)):
                    walk(item, f"{path}[{i}]")  # one entry per list item; valid items are {}
                else:
                    add(path, item)
        else:
            add(path, node)

    walk(detail, "")
    return flat


def _summary(errors: dict[str, list[str]]) -> str:
    count = sum(len(messages) for messages in errors.values())
    path, messages = next(iter(errors.items()))
    noun = "error" if count == 1 else "errors"
    return f"Invalid input: {count} {noun}; {path}: {messages[0]}"


def validation_body(errors: dict[str, list[str]]) -> dict[str, Any]:
    """The body of a 400 for flattened field errors."""
    return {"detail": _summary(errors) if errors else "Invalid input.", "errors": errors}


def _printable(node: Any) -> Any:
    """An error body whose quoted input cannot break its UTF-8 encoding: a lone
    surrogate from a JSON "\\udfff" escape, echoed in a message or a field
    path, is spelt as that escape."""
    if isinstance(node, str):
        return printable(node)
    if isinstance(node, Mapping):
        return {printable(str(key)): _printable(value) for key, value in node.items()}
    if isinstance(node, (list, tuple)):
        return [_printable(item) for item in node]
    return node


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, Refused):
        return Response({"detail": printable(str(exc))}, status=exc.status_code)
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge(str(exc))
    elif isinstance(exc, DjangoPermissionDenied) and exc.args:
        exc = exceptions.PermissionDenied(str(exc))  # DRF would drop the message
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.ValidationError):
        response.data = validation_body(flatten_errors(exc.detail))
    if response is not None:
        response.data = _printable(response.data)
    return response
