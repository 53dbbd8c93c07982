"""Inbound hooks: `POST /hooks/github/<project id>/` (GitHub push and
pull_request events) and `POST /hooks/ci/<project id>/` (any CI,
roofwatch-signed JSON).

The URL names the project, so its webhook secret is known before anything of
the request is read: the HMAC-SHA256 signature of the raw body is checked
first, and a bad one is 401 whatever the body, project or event says (an
unknown project, or one without a secret, answers the same). Only a signed
body is parsed (400 naming the problem) and recorded, once per delivery id.
Failed signatures count towards the per-address limit (core.ratelimit); a good
signature is never refused by it."""
import hashlib
import secrets

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from rest_framework.exceptions import ParseError

from core import ratelimit
from core.json_body import load_json
from notify.inbound import HookRefused, check_repository, ci_target, github_repository, github_target, receive
from notify.models import SOURCE_CI, SOURCE_GITHUB, WebhookSecret
from notify.signing import github_signature, roofwatch_signature, signature_matches, timestamp_problem

HOOKS = "hooks"  # the rate limit's scope
MAX_ID = 2**63 - 1

# Signs nothing anyone can send: checked against for a project without a secret, so it answers like a bad signature.
_NO_SECRET = secrets.token_hex(32)
NO_SECRET_HINT = "a project without a secret refuses every hook: create one with `manage.py webhook_secret PROJECT`"


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"detail": message}, status=status)


def _payload(body: bytes) -> dict:
    try:
        payload = load_json(body)
    except ParseError as exc:  # not UTF-8, malformed, or nested too deeply
        raise HookRefused(f"The body is not JSON this hook reads: {exc.detail}") from None
    if not isinstance(payload, dict):
        raise HookRefused(f"Expected a JSON object, got {type(payload).__name__}.")
    return payload


def _answer(record, new: bool) -> JsonResponse:
    return JsonResponse({"delivery": record.delivery_id, "duplicate": not new, "commit": record.commit,
                         "jobs_created": record.jobs_created if new else 0}, status=202 if new else 200)


def _secret_of(project_id: int) -> WebhookSecret | None:
    if project_id > MAX_ID:  # beyond a database integer: no such project
        return None
    return WebhookSecret.objects.filter(project_id=project_id).select_related("project").first()


def _signed_hook(signature_problem):
    """A hook view: csrf-exempt (signed instead), POST only. `signature_problem(request, secret)` runs
    first (401, failures rate-limited); then `handler(request, project)`, whose HookRefused is a JSON error."""
    def decorate(handler):
        @csrf_exempt
        @require_POST
        def view(request, project_id: int):
            record = _secret_of(project_id)
            problem = signature_problem(request, record.secret if record else _NO_SECRET)
            if problem or record is None:
                if ratelimit.refuse_failure(HOOKS, request):
                    return _error("Too many failed signatures from this address; try again later.", 429)
                return _error(problem or NO_SECRET_HINT, 401)
            try:
                return handler(request, record.project)
            except HookRefused as exc:
                return _error(str(exc), exc.status_code)
        view.__name__ = handler.__name__
        return view
    return decorate


def _github_signature_problem(request, secret: str) -> str | None:
    if signature_matches(github_signature(secret, request.body), request.headers.get("X-Hub-Signature-256")):
        return None
    return f"X-Hub-Signature-256 is missing or does not match the project's webhook secret ({NO_SECRET_HINT})."


def _ci_signature_problem(request, secret: str) -> str | None:
    timestamp, signature = request.headers.get("X-Roofwatch-Timestamp"), request.headers.get("X-Roofwatch-Signature")
    if not signature_matches(roofwatch_signature(secret, timestamp or "", request.body), signature):
        return ("X-Roofwatch-Signature is missing or does not match the project's webhook secret (expected "
                f"sha256=HMAC-SHA256(secret, timestamp + '.' + body); {NO_SECRET_HINT}).")
    return timestamp_problem(timestamp)


@_signed_hook(_github_signature_problem)
def github_hook(request, project):
    if request.content_type != "application/json":
        raise HookRefused(f"Expected Content-Type application/json, got {request.content_type!r}: set the GitHub "
                          f"webhook's content type to application/json.", status_code=415)
    event, delivery = request.headers.get("X-GitHub-Event", ""), request.headers.get("X-GitHub-Delivery", "")
    if not event or not delivery:
        raise HookRefused("Expected the X-GitHub-Event and X-GitHub-Delivery headers.")
    payload = _payload(request.body)
    check_repository(project, github_repository(payload))
    if event == "ping":
        return JsonResponse({"detail": "pong"})
    record, new = receive(SOURCE_GITHUB, delivery, project, event, github_target(event, payload))
    return _answer(record, new)


@_signed_hook(_ci_signature_problem)
def ci_hook(request, project):
    payload = _payload(request.body)
    check_repository(project, payload.get("repository"))
    # A CI that sends no delivery id: the signature covers timestamp and body, so it names this request.
    delivery = (request.headers.get("X-Roofwatch-Delivery")
                or hashlib.sha256(request.headers["X-Roofwatch-Signature"].encode()).hexdigest())
    record, new = receive(SOURCE_CI, delivery, project, "ci", ci_target(payload))
    return _answer(record, new)
