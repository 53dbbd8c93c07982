"""Inbound hooks: `POST /hooks/github/` (GitHub push and pull_request events)
and `POST /hooks/ci/` (any CI, roofwatch-signed JSON). Both verify an
HMAC-SHA256 signature with the project's webhook secret before anything is
recorded, and make jobs for the commit once per delivery id."""
import hashlib
import json

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core import ratelimit
from notify.inbound import HookRefused, ci_target, github_repository, github_target, project_for, receive
from notify.models import SOURCE_CI, SOURCE_GITHUB, WebhookSecret
from notify.signing import github_signature, roofwatch_signature, signature_matches, timestamp_problem

HOOKS = "hooks"  # the rate limit's scope

MISSING_SECRET = "Project {name!r} has no webhook secret; create one with `manage.py webhook_secret {name}`."


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"detail": message}, status=status)


def _refuse_auth(request, message: str) -> JsonResponse:
    ratelimit.record_failure(HOOKS, ratelimit.client_address(request))
    return _error(message, 401)


def _json(body: bytes):
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise HookRefused(f"The body is not JSON: {exc}.") from None


def _secret_of(project) -> str | None:
    return WebhookSecret.objects.filter(project=project).values_list("secret", flat=True).first()


def _answer(record, new: bool) -> JsonResponse:
    return JsonResponse({"delivery": record.delivery_id, "duplicate": not new, "commit": record.commit,
                         "jobs_created": record.jobs_created if new else 0}, status=202 if new else 200)


def _hook(handler):
    """csrf-exempt (signed by HMAC instead), POST only, rate-limited on auth failures, HookRefused -> JSON error."""
    @csrf_exempt
    @require_POST
    def view(request):
        if ratelimit.is_limited(HOOKS, ratelimit.client_address(request)):
            return _error("Too many failed signatures from this address; try again later.", 429)
        try:
            return handler(request)
        except HookRefused as exc:
            if exc.status_code == 404:
                ratelimit.record_failure(HOOKS, ratelimit.client_address(request))
            return _error(str(exc), exc.status_code)
    view.__name__ = handler.__name__
    return view


@_hook
def github_hook(request):
    if request.content_type != "application/json":
        raise HookRefused(f"Expected Content-Type application/json, got {request.content_type!r}: set the GitHub "
                          f"webhook's content type to application/json.", status_code=415)
    body = request.body
    payload = _json(body)
    project = project_for(github_repository(payload))
    secret = _secret_of(project)
    if secret is None:
        return _refuse_auth(request, MISSING_SECRET.format(name=project.name))
    if not signature_matches(github_signature(secret, body), request.headers.get("X-Hub-Signature-256")):
        return _refuse_auth(request, "X-Hub-Signature-256 is missing or does not match the project's webhook secret.")
    event, delivery = request.headers.get("X-GitHub-Event", ""), request.headers.get("X-GitHub-Delivery", "")
    if not event or not delivery:
        raise HookRefused("Expected the X-GitHub-Event and X-GitHub-Delivery headers.")
    if event == "ping":
        return JsonResponse({"detail": "pong"})
    record, new = receive(SOURCE_GITHUB, delivery, project, event, github_target(event, payload))
    return _answer(record, new)


@_hook
def ci_hook(request):
    body = request.body
    payload = _json(body)
    repository, target = ci_target(payload)
    project = project_for(repository)
    secret = _secret_of(project)
    if secret is None:
        return _refuse_auth(request, MISSING_SECRET.format(name=project.name))
    timestamp, signature = request.headers.get("X-Roofwatch-Timestamp"), request.headers.get("X-Roofwatch-Signature")
    if not signature_matches(roofwatch_signature(secret, timestamp or "", body), signature):
        return _refuse_auth(request, "X-Roofwatch-Signature is missing or does not match the project's webhook "
                                     "secret (expected sha256=HMAC-SHA256(secret, timestamp + '.' + body)).")
    if problem := timestamp_problem(timestamp):
        return _refuse_auth(request, problem)
    # A CI that sends no delivery id: the signature covers timestamp and body, so it names this request.
    delivery = request.headers.get("X-Roofwatch-Delivery") or hashlib.sha256(signature.encode()).hexdigest()
    record, new = receive(SOURCE_CI, delivery, project, "ci", target)
    return _answer(record, new)
