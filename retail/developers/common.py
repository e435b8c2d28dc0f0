"""What the developer centre's pages share: brand-scoped lookups that answer 404, the one-time
form key of a creating button (a double submit creates once), keyset paging and the secret page."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers

from retail import idempotency
from retail.pages import call_service

PAGE_SIZE = 50


# --- lookups --------------------------------------------------------------------------------------


def found(fn: Callable, *args, **kwargs):
    """What a ``*_get`` selector returns, or 404 (another brand's id, a missing one)."""
    try:
        row = fn(*args, **kwargs)
    except (ObjectDoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc
    if row is None:
        raise Http404
    return row


def app_or_404(request, app_id: int):
    from retail.partners import selectors

    return found(selectors.app_get, request.brand, app_id)


def endpoint_or_404(request, endpoint_id: int):
    from retail.webhooks import selectors

    return found(selectors.endpoint_get, request.brand, endpoint_id)


def delivery_or_404(request, delivery_id: int):
    from retail.webhooks import selectors

    return found(selectors.delivery_get, request.brand, delivery_id)


# --- one-time form keys ---------------------------------------------------------------------------


def once_per_form(request, form_key: str, op: dict, write: Callable[[], dict]) -> tuple[dict, bool]:
    """Run ``write`` once for this form's one-time key: ``(what it returned, replayed)``.

    The key is kept in the kernel's idempotency records (``retail.idempotency.record_claim``,
    principal ``staff:<id>``, key ``page:<key>``, 24 hours): a concurrent double submit waits on
    the record's unique index, then replays the first one's answer. ``write`` runs in a savepoint
    and returns what a replay needs (ids, never a secret); when it raises, the key is freed so the
    corrected form can be sent again. The same key with another ``op``: IdempotencyConflict."""
    record = idempotency.record_claim(
        brand=request.brand,
        principal=idempotency.principal(request.staff),
        key=f"page:{form_key}",
        method=request.method,
        path=request.path,
        request_hash=idempotency.digest(idempotency.request_fingerprint(op)),
    )
    if record.replayed:
        return dict(record.response_body or {}), True
    try:
        result = call_service(write)
    except Exception:
        idempotency.record_answer(record, 500, None, keep=False)
        raise
    idempotency.record_answer(record, 200, result)
    return result, False


# --- paging ---------------------------------------------------------------------------------------


def keyset_page(request, qs, size: int | None = None) -> dict:
    """One page of newest-first rows (``?before=<id>`` for older ones), without counting the table:
    ``{"rows", "older" (the next page's before= or None), "paged" (not the first page)}``."""
    size = size or PAGE_SIZE
    raw = request.GET.get("before", "")
    before = int(raw) if raw.isdigit() and len(raw) <= 18 else None
    if before is not None:
        qs = qs.filter(pk__lt=before)
    rows = list(qs.order_by("-pk")[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return {"rows": rows, "older": rows[-1].pk if more else None, "paged": before is not None}


# --- secrets --------------------------------------------------------------------------------------


def secret_page(request, ctx: dict):
    """The page that shows a secret once: rendered in the answer to the POST that made it, never
    stored (not in the session, not in a cache) and never cached by the browser or a proxy."""
    response = render(request, "dashboard/developers/secret.html", {"nav": "developers", **ctx})
    add_never_cache_headers(response)
    return response
