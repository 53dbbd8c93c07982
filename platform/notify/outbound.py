"""Outbound alert webhooks: file one delivery per (alert summary, endpoint),
and send it, once.

Idempotency: a delivery row exists once per summary and endpoint (unique
constraint), its body is fixed when it is filed, and it goes out with the same
X-Roofwatch-Delivery id on every attempt. An attempt is claimed (attempts + 1,
`sending_until` set) in a committed transaction before the request goes out,
so no two workers send one delivery at once, a killed attempt is still
counted, and a delivered one is never sent again. A worker killed
after the receiver answered but before the commit sends again on redelivery,
with the same id: receivers drop ids they have seen.
"""
from __future__ import annotations

import enum
import json
import logging
from datetime import timedelta

import requests
from django.db import IntegrityError, transaction
from django.utils import timezone

from notify.conf import setting
from notify.messages import NotApplicable, message
from notify.models import KIND_GENERIC, KIND_GITHUB_STATUS, Delivery, WebhookEndpoint
from notify.signing import signed_headers
from regressions.models import REGRESSION, AlertSummary

log = logging.getLogger(__name__)
USER_AGENT = "roofwatch-webhooks/1"
ERROR_CHARS = 2_000
SENDING_GRACE_SECONDS = 5  # past the request timeout, an attempt whose worker died is over


class Outcome(enum.Enum):
    DELIVERED = "delivered"  # now or before
    RETRY = "retry"  # failed; may succeed later (connection, 5xx, 408, 429)
    GAVE_UP = "gave_up"  # a permanent refusal (other 4xx), now or before


def file_deliveries(alert_ids: list[int]) -> list[int]:
    """The deliveries for the summaries of `alert_ids` that hold a regression,
    one per enabled endpoint of the summary's project; returns the ids of
    those not yet delivered nor given up (made now or before)."""
    summaries = AlertSummary.objects.filter(alerts__id__in=alert_ids, alerts__direction=REGRESSION).distinct()
    pending = []
    for summary in summaries.select_related("project"):
        for endpoint in WebhookEndpoint.objects.filter(project=summary.project_id, enabled=True):
            delivery = _file(endpoint, summary)
            if delivery is not None and delivery.state == "pending":
                pending.append(delivery.pk)
    return pending


def _file(endpoint: WebhookEndpoint, summary: AlertSummary) -> Delivery | None:
    existing = Delivery.objects.filter(endpoint=endpoint, summary=summary).first()
    if existing is not None:
        return existing
    delivery = Delivery(endpoint=endpoint, summary=summary)
    try:
        msg = message(endpoint, summary, str(delivery.delivery_id))
    except NotApplicable as why:
        log.info("no delivery of summary %s to %s: %s", summary.pk, endpoint, why)
        return None
    delivery.request_url = msg.url
    delivery.request_body = json.dumps(msg.body, sort_keys=True)
    try:
        with transaction.atomic():
            delivery.save()
    except IntegrityError:  # filed meanwhile by another worker
        return Delivery.objects.filter(endpoint=endpoint, summary=summary).first()
    return delivery


def _headers(delivery: Delivery, body: bytes) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
               "X-Roofwatch-Delivery": str(delivery.delivery_id)}
    endpoint = delivery.endpoint
    if endpoint.kind == KIND_GENERIC and endpoint.secret:
        headers.update(signed_headers(endpoint.secret, body))
    if endpoint.kind == KIND_GITHUB_STATUS:
        headers.update({"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"})
        if endpoint.token:
            headers["Authorization"] = f"Bearer {endpoint.token}"
    return headers


def _is_transient(code: int) -> bool:
    return code >= 500 or code in (408, 429)


def send(delivery_pk: int) -> Outcome:
    """One attempt at a delivery, unless it is delivered, given up, or being
    sent by another worker right now (then RETRY, later)."""
    timeout = setting("ROOFWATCH_WEBHOOK_TIMEOUT_SECONDS")
    with transaction.atomic():  # claim the attempt; committed before sending, so a killed attempt still counts
        delivery = Delivery.objects.select_for_update().select_related("endpoint").get(pk=delivery_pk)
        if delivery.delivered_at is not None:
            return Outcome.DELIVERED
        if delivery.gave_up or not delivery.endpoint.enabled:
            return Outcome.GAVE_UP
        now = timezone.now()
        if delivery.sending_until is not None and delivery.sending_until > now:
            return Outcome.RETRY
        delivery.attempts += 1
        delivery.sending_until = now + timedelta(seconds=timeout + SENDING_GRACE_SECONDS)
        delivery.save(update_fields=["attempts", "sending_until"])
    body = delivery.request_body.encode()
    try:
        response = requests.post(delivery.request_url, data=body, headers=_headers(delivery, body), timeout=timeout,
                                 allow_redirects=False)
    except requests.RequestException as exc:
        code, error, outcome = None, f"{type(exc).__name__}: {exc}", Outcome.RETRY
    else:
        code = response.status_code
        if 200 <= code < 300:
            error, outcome = "", Outcome.DELIVERED
        else:
            error = f"HTTP {code}: {response.text[:500]}"
            outcome = Outcome.RETRY if _is_transient(code) else Outcome.GAVE_UP
    Delivery.objects.filter(pk=delivery_pk).update(
        response_code=code, last_error=error[:ERROR_CHARS], sending_until=None, gave_up=outcome is Outcome.GAVE_UP,
        delivered_at=timezone.now() if outcome is Outcome.DELIVERED else None)
    return outcome


def give_up(delivery_pk: int, why: str) -> None:
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().get(pk=delivery_pk)
        if delivery.delivered_at is None:
            delivery.gave_up = True
            delivery.last_error = f"{why}; last error: {delivery.last_error}"[:ERROR_CHARS]
            delivery.save(update_fields=["gave_up", "last_error"])


def backoff_seconds(retries: int) -> float:
    """Exponential: base, 2 base, 4 base, ... capped at an hour."""
    return min(setting("ROOFWATCH_WEBHOOK_BACKOFF_SECONDS") * 2 ** retries, 3600)
