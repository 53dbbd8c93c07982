"""Outbound alert webhooks: file one delivery per (alert summary, endpoint,
event), and send it, once. Events: the summary itself (alert_summary), and
the culprit its bisection found (culprit_found).

Idempotency: a delivery row exists once per summary, endpoint and event (unique
constraint), its body is fixed when it is filed, and it goes out with the same
X-Roofwatch-Delivery id on every attempt. An attempt is claimed (attempts + 1,
`sending_until` set) in a committed transaction before the request goes out,
so no two workers send one delivery at once, a killed attempt is still
counted, and a delivered one is never sent again. A worker killed
after the receiver answered but before the commit sends again on redelivery,
with the same id: receivers drop ids they have seen.

Nothing lost: deliveries are filed in the transaction that files their alerts
(the outbox, see notify.receivers; a culprit's right after the bisection
that found it committed), and a delivery whose queued send was lost
(broker down, worker killed) or whose backoff has passed is sent again by the
beat sweep (`due_deliveries`, notify.tasks.sweep_deliveries). Every request
goes to a checked public address (notify.destinations).
"""
from __future__ import annotations

import enum
import json
import logging
from datetime import timedelta

import requests
from django.db import IntegrityError, transaction
from django.utils import timezone

from bisection.models import FOUND, Bisection
from notify import destinations
from notify.conf import setting
from notify.messages import Message, NotApplicable, culprit_message, message
from notify.models import (
    EVENT_ALERT_SUMMARY,
    EVENT_CULPRIT_FOUND,
    KIND_GENERIC,
    KIND_GITHUB_STATUS,
    Delivery,
    WebhookEndpoint,
)
from notify.signing import signed_headers
from regressions.models import REGRESSION, AlertSummary

log = logging.getLogger(__name__)
USER_AGENT = "roofwatch-webhooks/1"
ERROR_CHARS = 2_000
SENDING_GRACE_SECONDS = 5  # past the request timeout, an attempt whose worker died is over
SWEEP_BATCH = 500  # deliveries one sweep queues at most
CULPRIT_CATCHUP = timedelta(days=1)  # how far back the sweep files culprit deliveries a lost receiver missed


class Outcome(enum.Enum):
    DELIVERED = "delivered"  # now or before
    RETRY = "retry"  # failed; may succeed later (connection, 5xx, 408, 429)
    GAVE_UP = "gave_up"  # a permanent refusal (other 4xx, a non-public address) or out of retries, now or before
    BUSY = "busy"  # another attempt is in flight; it finishes the job, or the sweep does once it lapses


def file_deliveries(alert_ids: list[int]) -> list[int]:
    """The deliveries for the summaries of `alert_ids` that hold a regression,
    one per enabled endpoint of the summary's project; returns the ids of
    those not yet delivered nor given up (made now or before)."""
    summaries = AlertSummary.objects.filter(alerts__id__in=alert_ids, alerts__direction=REGRESSION).distinct()
    pending = []
    for summary in summaries.select_related("project"):
        for endpoint in WebhookEndpoint.objects.filter(project=summary.project_id, enabled=True):
            delivery = _file(endpoint, summary, EVENT_ALERT_SUMMARY,
                             lambda delivery_id, e=endpoint, s=summary: message(e, s, delivery_id))
            if delivery is not None and delivery.state == "pending":
                pending.append(delivery.pk)
    return pending


def file_culprit_deliveries(bisection_id: int) -> list[int]:
    """The culprit_found deliveries of a bisection that found its culprit, one
    per enabled endpoint of its summary's project, filed in one transaction;
    returns the ids of those not yet delivered nor given up (made now or before)."""
    pending = []
    with transaction.atomic():
        bisection = Bisection.objects.select_related("summary__project").filter(pk=bisection_id).first()
        if bisection is None or bisection.status != FOUND:
            return []
        summary = bisection.summary
        for endpoint in WebhookEndpoint.objects.filter(project=summary.project_id, enabled=True):
            delivery = _file(endpoint, summary, EVENT_CULPRIT_FOUND,
                             lambda delivery_id, e=endpoint: culprit_message(e, bisection, delivery_id))
            if delivery is not None and delivery.state == "pending":
                pending.append(delivery.pk)
    return pending


def missed_culprits(limit: int = SWEEP_BATCH) -> list[int]:
    """Bisections that found their culprit within CULPRIT_CATCHUP but whose
    summary has no culprit_found delivery: a process that died between the
    bisection's commit and the filing. The sweep files them."""
    since = timezone.now() - CULPRIT_CATCHUP
    missed = (Bisection.objects.filter(status=FOUND, finished_at__gte=since)
              .exclude(summary__deliveries__event=EVENT_CULPRIT_FOUND)
              .filter(summary__project__webhook_endpoints__enabled=True).distinct())
    return list(missed.order_by("finished_at", "pk").values_list("pk", flat=True)[:limit])


def _file(endpoint: WebhookEndpoint, summary: AlertSummary, event: str, build) -> Delivery | None:
    """The delivery of `event` about `summary` to `endpoint`, filed now with the
    message `build(delivery_id)` makes unless it exists; None if not applicable."""
    existing = Delivery.objects.filter(endpoint=endpoint, summary=summary, event=event).first()
    if existing is not None:
        return existing
    delivery = Delivery(endpoint=endpoint, summary=summary, event=event)
    try:
        msg: Message = build(str(delivery.delivery_id))
    except NotApplicable as why:
        log.info("no %s delivery of summary %s to %s: %s", event, summary.pk, endpoint, why)
        return None
    delivery.request_url = msg.url
    delivery.request_body = json.dumps(msg.body, sort_keys=True)
    # Its send is queued after the commit; if that is lost, the sweep sends it after this grace.
    delivery.next_attempt_at = timezone.now() + timedelta(seconds=backoff_seconds(0))
    try:
        with transaction.atomic():
            delivery.save()
    except IntegrityError:  # filed meanwhile by another worker
        return Delivery.objects.filter(endpoint=endpoint, summary=summary, event=event).first()
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
    sent by another worker right now (BUSY). A failed attempt past the last
    retry gives up."""
    delivery = _claim(delivery_pk)
    if isinstance(delivery, Outcome):
        return delivery
    code, error, outcome = _post(delivery)
    now = timezone.now()
    if outcome is Outcome.RETRY and delivery.attempts > setting("ROOFWATCH_WEBHOOK_MAX_RETRIES"):
        outcome, error = Outcome.GAVE_UP, f"gave up after {delivery.attempts} attempts; last error: {error}"
    Delivery.objects.filter(pk=delivery_pk).update(
        response_code=code, last_error=error[:ERROR_CHARS], sending_until=None, gave_up=outcome is Outcome.GAVE_UP,
        delivered_at=now if outcome is Outcome.DELIVERED else None,
        next_attempt_at=now + timedelta(seconds=backoff_seconds(delivery.attempts - 1)))
    return outcome


def _claim(delivery_pk: int) -> Delivery | Outcome:
    """Count an attempt and mark it in flight, in a transaction committed before
    sending, so a killed attempt still counts; or the outcome if there is nothing to send."""
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().select_related("endpoint").get(pk=delivery_pk)
        if delivery.delivered_at is not None:
            return Outcome.DELIVERED
        if delivery.gave_up or not delivery.endpoint.enabled:
            return Outcome.GAVE_UP
        now = timezone.now()
        if delivery.sending_until is not None and delivery.sending_until > now:
            return Outcome.BUSY
        delivery.attempts += 1
        delivery.sending_until = now + timedelta(seconds=setting("ROOFWATCH_WEBHOOK_TIMEOUT_SECONDS")
                                                 + SENDING_GRACE_SECONDS)
        delivery.next_attempt_at = delivery.sending_until  # the sweep's turn if this attempt dies
        delivery.save(update_fields=["attempts", "sending_until", "next_attempt_at"])
    return delivery


def _post(delivery: Delivery) -> tuple[int | None, str, Outcome]:
    """POST the delivery's body to an address that passed the check (notify.destinations):
    the response code, the error (empty on success) and the outcome."""
    body = delivery.request_body.encode()
    try:
        with destinations.session() as http:
            response = http.post(delivery.request_url, data=body, headers=_headers(delivery, body),
                                 timeout=setting("ROOFWATCH_WEBHOOK_TIMEOUT_SECONDS"), allow_redirects=False)
    except destinations.UnsafeDestination as exc:
        return None, f"refused: {exc}", Outcome.GAVE_UP
    except requests.RequestException as exc:
        return None, f"{type(exc).__name__}: {exc}", Outcome.RETRY
    code = response.status_code
    if 200 <= code < 300:
        return code, "", Outcome.DELIVERED
    return code, f"HTTP {code}: {response.text[:500]}", Outcome.RETRY if _is_transient(code) else Outcome.GAVE_UP


def due_deliveries(limit: int = SWEEP_BATCH) -> list[int]:
    """The deliveries the sweep sends: neither delivered nor given up, to an
    enabled endpoint, whose next attempt is due (never sent, or backoff passed)."""
    due = Delivery.objects.filter(delivered_at=None, gave_up=False, endpoint__enabled=True,
                                  next_attempt_at__lte=timezone.now())
    return list(due.order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:limit])


def backoff_seconds(retries: int) -> float:
    """Exponential: base, 2 base, 4 base, ... capped at an hour."""
    return min(setting("ROOFWATCH_WEBHOOK_BACKOFF_SECONDS") * 2 ** retries, 3600)
