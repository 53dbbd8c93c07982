"""The inbound hooks (notify.views, plain Django views) in the OpenAPI
schema: a drf-spectacular postprocessing hook adds their paths, signature
headers, bodies and answers (settings SPECTACULAR_SETTINGS)."""
from __future__ import annotations

from notify.signing import PREFIX, REPLAY_WINDOW_SECONDS

MAX_ID = 2**63 - 1
ERROR = {"$ref": "#/components/schemas/ApiError"}
SIGNATURE = {"type": "string", "pattern": f"^{PREFIX}[0-9a-f]{{64}}$"}


def _header(name: str, description: str, schema: dict | None = None, required: bool = True) -> dict:
    return {"name": name, "in": "header", "required": required, "description": description,
            "schema": schema or {"type": "string", "minLength": 1, "pattern": "^[^\\x00]*$"}}


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": ERROR}}}


ANSWER = {
    "type": "object",
    "properties": {
        "delivery": {"type": "string", "description": "the delivery id"},
        "duplicate": {"type": "boolean", "description": "true: this delivery was received before"},
        "commit": {"type": "string"},
        "jobs_created": {"type": "integer", "minimum": 0},
    },
    "required": ["delivery", "duplicate", "commit", "jobs_created"],
}
PONG = {"type": "object", "properties": {"detail": {"type": "string", "enum": ["pong"]}}, "required": ["detail"]}


def _operation(summary: str, description: str, headers: list[dict], ok: dict, extra_errors: dict) -> dict:
    return {
        "operationId": summary.lower().replace(" ", "_"),
        "summary": summary,
        "description": description,
        "tags": ["hooks"],
        "security": [],
        "parameters": [{"name": "project_id", "in": "path", "required": True, "description": "the project's id",
                        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID}}, *headers],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
        "responses": {
            **ok,
            "202": {"description": "Received: commit jobs made for the pushed commits.",
                    "content": {"application/json": {"schema": ANSWER}}},
            "400": _error("The signed body is not a JSON object this hook reads, or names another repository."),
            "401": _error("The signature is missing or wrong, the project is unknown or has no webhook secret."),
            "404": _error("No such hook URL."),
            "405": _error("Hooks take POST only."),
            "409": _error("The delivery id was used before for another body."),
            "413": _error("The request body is over the size limit."),
            "429": _error("Too many failed signatures from this address."),
            **extra_errors,
        },
    }


def add_hooks(result: dict, generator, request, public) -> dict:
    """The drf-spectacular postprocessing hook: /hooks/github/ and /hooks/ci/."""
    result.setdefault("paths", {})
    result["paths"]["/hooks/github/{project_id}/"] = {"post": _operation(
        "GitHub push hook",
        "GitHub push and pull_request events; the HMAC-SHA256 of the raw body with the project's webhook "
        "secret is checked before anything else (401).",
        [_header("X-Hub-Signature-256", f"{PREFIX}<hex HMAC-SHA256 of the body>", SIGNATURE),
         _header("X-GitHub-Event", "push, pull_request or ping"),
         _header("X-GitHub-Delivery", "GitHub's delivery id")],
        {"200": {"description": "A ping (pong), or a delivery received before (duplicate: true).",
                 "content": {"application/json": {"schema": {"oneOf": [PONG, ANSWER]}}}}},
        {"415": _error("The body is not application/json.")},
    )}
    result["paths"]["/hooks/ci/{project_id}/"] = {"post": _operation(
        "CI hook",
        "Any CI, roofwatch-signed: X-Roofwatch-Signature is sha256=HMAC-SHA256(secret, timestamp + '.' + body), "
        f"X-Roofwatch-Timestamp the Unix time, within {REPLAY_WINDOW_SECONDS} s of the server's clock.",
        [_header("X-Roofwatch-Signature", f"{PREFIX}<hex HMAC-SHA256 of timestamp.body>", SIGNATURE),
         _header("X-Roofwatch-Timestamp", "the Unix time in seconds", {"type": "string", "pattern": "^[0-9]{1,12}$"}),
         _header("X-Roofwatch-Delivery", "a unique id per delivery (absent: the signature names it)",
                 required=False)],
        {"200": {"description": "A delivery received before (duplicate: true).",
                 "content": {"application/json": {"schema": ANSWER}}}},
        {},
    )}
    return result
