"""The delivery engine: one endpoint's due deliveries, posted in batches over one connection.

``deliver_endpoint`` (run by the task of the same name, one task per endpoint on the ``webhooks``
queue) repeats until nothing is due:

1. **Claim** (a short transaction): the endpoint's due deliveries, oldest first, locked with
   ``SKIP LOCKED`` so a second worker on the same endpoint takes other rows, and leased by moving
   their ``next_attempt_at`` ahead by ``WEBHOOK_LEASE_SECONDS``: once the claim commits no other
   worker sees them as due, and if this worker dies they are due again when the lease ends.
2. **Send**, with no transaction open: each delivery is signed and posted over the endpoint's one
   keep-alive connection (sender.py). The first failure stops the batch: the **circuit breaker**
   postpones the endpoint's other due deliveries to the failed one's next try, so a dead or slow
   endpoint costs one timeout per round, and since each endpoint has its own task it never delays
   another endpoint.
3. **Settle** (a short transaction): the attempts are written in bulk, each delivery is marked
   delivered, or due again after the back-off (1 min, 5 min, 30 min, 2 h, 5 h, 10 h, then every
   12 h), or given up (failed) once ``WEBHOOK_GIVE_UP_DAYS`` (3) have passed since it was recorded.
   An endpoint failing without a success for ``WEBHOOK_DISABLE_AFTER_DAYS`` is disabled, audited,
   and the brand admins are told.
"""

from __future__ import annotations

import datetime
import json
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import F, Q, Value
from django.db.models.functions import Least
from django.utils import timezone

from retail import outbox
from retail.events import Actor
from retail.tenancy import brand_context, brand_scope
from retail.webhooks import events, signing
from retail.webhooks.models import BODY_LOG_LIMIT, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from retail.webhooks.sender import Answer, Sender

USER_AGENT = "SmartGuideRetail-Webhooks/1"

# Seconds before the next try after the 1st, 2nd, ... failed attempt; then REPEAT_SECONDS.
BACKOFF_SECONDS = (60, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600)
REPEAT_SECONDS = 12 * 3600


def _setting(name: str, default):
    return getattr(settings, name, default)


def batch_size() -> int:
    return int(_setting("WEBHOOK_BATCH_SIZE", 50))


def lease() -> datetime.timedelta:
    return datetime.timedelta(seconds=int(_setting("WEBHOOK_LEASE_SECONDS", 120)))


def give_up_after() -> datetime.timedelta:
    return datetime.timedelta(days=float(_setting("WEBHOOK_GIVE_UP_DAYS", 3)))


def disable_after() -> datetime.timedelta:
    return datetime.timedelta(days=float(_setting("WEBHOOK_DISABLE_AFTER_DAYS", 3)))


def retry_delay(attempts: int) -> datetime.timedelta:
    """How long after the ``attempts``-th failed attempt the delivery is tried again."""
    seconds = BACKOFF_SECONDS[attempts - 1] if 1 <= attempts <= len(BACKOFF_SECONDS) else REPEAT_SECONDS
    return datetime.timedelta(seconds=seconds)


def body_of(delivery: WebhookDelivery) -> bytes:
    """The request body: the event's envelope as compact JSON with sorted keys (stable bytes)."""
    return json.dumps(
        delivery.event.envelope(), ensure_ascii=False, sort_keys=True, separators=(",", ":")
    ).encode()


def request_headers(delivery: WebhookDelivery, body: bytes, secrets: list[str]) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Retail-Event-Id": str(delivery.event_id),
        "Retail-Event-Type": delivery.event.type,
        "Retail-Delivery-Id": str(delivery.pk),
        signing.HEADER: signing.signature_header(body, secrets),
    }


def _text(raw: bytes | str, limit: int = BODY_LOG_LIMIT) -> str:
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    return text[:limit]


@dataclass
class Sent:
    delivery: WebhookDelivery
    at: datetime.datetime
    headers: dict
    body: bytes
    answer: Answer


@dataclass
class Summary:
    sent: int = 0
    succeeded: int = 0
    failed: int = 0
    given_up: int = 0
    postponed: int = 0
    disabled: bool = False
    rounds: int = 0
    delivered_ids: list[int] = field(default_factory=list)


def claim(endpoint: WebhookEndpoint, now: datetime.datetime) -> list[WebhookDelivery]:
    """Lock and lease up to a batch of the endpoint's due deliveries (inside a transaction)."""
    rows = list(
        WebhookDelivery.objects.filter(
            endpoint_id=endpoint.pk, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
        )
        .select_related("event")
        .select_for_update(skip_locked=True, of=("self",))
        .order_by("id")[: batch_size()]
    )
    if rows:
        WebhookDelivery.objects.filter(pk__in=[d.pk for d in rows]).update(next_attempt_at=now + lease())
    return rows


def _active(endpoint: WebhookEndpoint | None) -> bool:
    return endpoint is not None and endpoint.enabled and endpoint.app.status == "active"


def deliver_endpoint(*, brand_id: int, endpoint_id: int, budget_seconds: float | None = None) -> Summary:
    """Deliver what is due to one endpoint, batch after batch, until nothing is due, a request
    fails (the breaker) or the time budget (``WEBHOOK_TASK_SECONDS``) is spent."""
    budget = float(_setting("WEBHOOK_TASK_SECONDS", 60) if budget_seconds is None else budget_seconds)
    started = time.monotonic()
    summary = Summary()
    sender: Sender | None = None
    try:
        with brand_context(brand_id):
            while True:
                with brand_scope(brand_id):
                    endpoint = WebhookEndpoint.objects.select_related("app").filter(pk=endpoint_id).first()
                    if not _active(endpoint):
                        break
                    claimed_at = timezone.now()
                    batch = claim(endpoint, claimed_at)
                if not batch:
                    break
                summary.rounds += 1
                if sender is None or sender.url != endpoint.url:
                    if sender is not None:
                        sender.close()
                    sender = Sender(endpoint.url)
                sent, unsent = send_batch(sender, endpoint, batch, leased_at=time.monotonic())
                with brand_scope(brand_id):
                    tripped = settle(brand_id, endpoint, sent, unsent, summary)
                if tripped:
                    break
                if time.monotonic() - started > budget:
                    from retail.webhooks import recording

                    recording.kick(brand_id, endpoint_id)  # the rest in a fresh task
                    break
    finally:
        if sender is not None:
            sender.close()
    return summary


def send_batch(
    sender: Sender, endpoint: WebhookEndpoint, batch: list[WebhookDelivery], *, leased_at: float
) -> tuple[list[Sent], list[WebhookDelivery]]:
    """Post the batch in order until one fails or the lease runs short; (sent, not sent)."""
    secrets = endpoint.signing_secrets()
    # Stop starting requests while one more could still outlast the lease.
    reserve = (
        float(_setting("WEBHOOK_CONNECT_TIMEOUT", 3.0)) + float(_setting("WEBHOOK_TOTAL_TIMEOUT", 10.0)) + 5
    )
    stop_at = leased_at + max(lease().total_seconds() - reserve, 1.0)
    sent: list[Sent] = []
    for i, delivery in enumerate(batch):
        if time.monotonic() > stop_at:
            return sent, batch[i:]
        body = body_of(delivery)
        headers = request_headers(delivery, body, secrets)
        at = timezone.now()
        answer = sender.post(body, headers)
        sent.append(Sent(delivery=delivery, at=at, headers=headers, body=body, answer=answer))
        if not answer.ok:
            return sent, batch[i + 1 :]
    return sent, []


def _error_of(answer: Answer) -> str:
    if answer.error:
        return answer.error[:300]
    if answer.status is not None and 300 <= answer.status < 400:
        return f"HTTP {answer.status}: redirects are not followed"
    if answer.status is not None and not answer.ok:
        return f"HTTP {answer.status}"
    return ""


def settle(
    brand_id: int,
    endpoint: WebhookEndpoint,
    sent: list[Sent],
    unsent: list[WebhookDelivery],
    summary: Summary,
) -> bool:
    """Write the attempts and the deliveries' new state (inside a transaction); whether the
    breaker tripped."""
    now = timezone.now()
    window = give_up_after()
    attempts = []
    for s in sent:
        d, a = s.delivery, s.answer
        attempts.append(
            WebhookAttempt(
                brand_id=brand_id,
                delivery=d,
                at=s.at,
                url=endpoint.url[:500],
                request_headers=s.headers,
                request_body=_text(s.body),
                response_status=a.status,
                response_headers={str(k)[:100]: str(v)[:500] for k, v in a.headers.items()},
                response_body=_text(a.body),
                error=_error_of(a),
                duration_ms=min(a.duration_ms, 2**31 - 1),
            )
        )
        d.attempts += 1
        d.last_attempt_at = s.at
        d.last_status = a.status
        d.last_error = _error_of(a)
        summary.sent += 1
        if a.ok:
            d.status, d.delivered_at, d.next_attempt_at = WebhookDelivery.Status.SUCCEEDED, now, None
            summary.succeeded += 1
            summary.delivered_ids.append(d.pk)
        elif s.at >= d.created_at + window:
            d.status, d.next_attempt_at = WebhookDelivery.Status.FAILED, None
            summary.failed += 1
            summary.given_up += 1
        else:  # the back-off counts from the start of the attempt
            d.next_attempt_at = min(s.at + retry_delay(d.attempts), d.created_at + window)
            summary.failed += 1
    WebhookAttempt.objects.bulk_create(attempts)
    WebhookDelivery.objects.bulk_update(
        [s.delivery for s in sent],
        [
            "status",
            "attempts",
            "next_attempt_at",
            "last_attempt_at",
            "last_status",
            "last_error",
            "delivered_at",
        ],
    )
    failed = next((s for s in sent if not s.answer.ok), None)
    if failed is None:
        if unsent:  # the lease ran short: due again at once
            WebhookDelivery.objects.filter(pk__in=[d.pk for d in unsent]).update(next_attempt_at=now)
        if sent and endpoint.failing_since is not None:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
            endpoint.failing_since = None
        return False
    _trip(brand_id, endpoint, failed, unsent, now, summary)
    return True


def _trip(brand_id: int, endpoint: WebhookEndpoint, failed: Sent, unsent, now, summary: Summary) -> None:
    """The circuit breaker: the endpoint's other due deliveries wait for the failed one's next try
    (those past the give-up window are given up), and a long-failing endpoint is disabled."""
    window = give_up_after()
    until = failed.delivery.next_attempt_at or now + retry_delay(1)
    pending = WebhookDelivery.objects.filter(endpoint_id=endpoint.pk, status=WebhookDelivery.Status.PENDING)
    # The endpoint's due deliveries, and the ones of this batch that were not sent (still leased).
    held = Q(next_attempt_at__lte=now) | Q(pk__in=[d.pk for d in unsent])
    summary.given_up += pending.filter(held, created_at__lte=now - window).update(
        status=WebhookDelivery.Status.FAILED, next_attempt_at=None, last_error="given up"
    )
    summary.postponed += pending.filter(held).update(
        next_attempt_at=Least(Value(until), F("created_at") + window)
    )

    since = endpoint.failing_since or failed.at
    if endpoint.failing_since is None:
        WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(failing_since=since)
        endpoint.failing_since = since
    if now - since >= disable_after():
        disable(brand_id, endpoint, reason=WebhookEndpoint.DisabledReason.FAILING, now=now)
        summary.disabled = True


def disable(
    brand_id: int, endpoint: WebhookEndpoint, *, reason: str, now=None, actor: Actor | None = None
) -> bool:
    """Turn the endpoint off (audited); when it kept failing, the brand admins are told after commit."""
    now = now or timezone.now()
    changed = WebhookEndpoint.objects.filter(pk=endpoint.pk, enabled=True).update(
        enabled=False, disabled_reason=reason, disabled_at=now, updated_at=now
    )
    if not changed:
        return False
    endpoint.enabled, endpoint.disabled_reason, endpoint.disabled_at = False, reason, now
    events.endpoint_disabled(brand=brand_id, actor=actor or Actor.system(), endpoint=endpoint, reason=reason)
    if reason == WebhookEndpoint.DisabledReason.FAILING:
        outbox.enqueue_on_commit("retail.webhooks.tasks.notify_disabled", brand_id, endpoint.pk)
    return True
