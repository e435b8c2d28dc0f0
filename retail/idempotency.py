"""Idempotency of requests that move money or points: one key reader, one request fingerprint,
replay of the first answer, and a conflict (409) when a key comes back with another request.

A client's key is stored namespaced as ``<surface>:<staff id>:<key>`` (surface ``api`` for the
``Idempotency-Key`` header, ``page`` for a form's one-time key), in the brand-owned row the request
wrote, whose unique constraint includes the brand: so two brands or two people never share a key.
The row keeps ``request_hash``; a replay with the same fingerprint answers that row again.

Every other POST of the API that carries the header is answered once per key by ``BrandAPIView``
through a generic record (``ApiIdempotencyRecord``: the first answer, kept 24 hours), see
``record_claim`` below."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, models, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions

HEADER = "Idempotency-Key"
KEY_MAX_CHARS = 100
CONFLICT_CODE = "idempotency_conflict"
# The answer's header when it replays the first result.
REPLAYED_HEADERS = {"Idempotent-Replayed": "true"}

T = TypeVar("T")


class IdempotencyConflict(ValidationError):
    """The key was used before for a different request (the API answers 409)."""

    def __init__(self, message: str | None = None, code: str = CONFLICT_CODE):
        super().__init__(
            message or _("This idempotency key was already used for a different request."), code=code
        )


# --- keys -----------------------------------------------------------------------------------------


def scoped_key(surface: str, staff_id: int, key: str) -> str:
    """A client's key as stored: namespaced by where it came from and who sent it."""
    return f"{surface}:{staff_id}:{key}"


def header_key(request) -> str | None:
    """The client's ``Idempotency-Key`` header as sent (trimmed), None without one; a key of more
    than 100 characters, or not printable, is a 400."""
    key = (request.headers.get(HEADER) or "").strip()
    if not key:
        return None
    if len(key) > KEY_MAX_CHARS or not key.isprintable():
        raise exceptions.ValidationError({HEADER: [gettext_lazy("At most 100 printable characters.")]})
    return key


def read_key(request, staff) -> str:
    """The request's ``Idempotency-Key`` header (required, at most 100 printable characters),
    namespaced by the calling staff member."""
    key = header_key(request)
    if key is None:
        raise exceptions.ValidationError({HEADER: [gettext_lazy("This header is required.")]})
    return scoped_key("api", staff.pk, key)


def page_key(staff, key: str) -> str:
    """The key a page form's one-time key stands for, namespaced by the person submitting it."""
    return scoped_key("page", staff.pk, key)


# --- fingerprints ---------------------------------------------------------------------------------


def request_fingerprint(payload: dict[str, Any]) -> str:
    """What a request asks for, as a hash: the same payload gives the same fingerprint."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def digest(fingerprint: str) -> str:
    """A fingerprint as stored in ``request_hash`` (64 characters at most: longer ones are hashed)."""
    return fingerprint if len(fingerprint) <= 64 else hashlib.sha256(fingerprint.encode()).hexdigest()


# --- replay and conflict --------------------------------------------------------------------------


def replay(row: T, fingerprint: str | None = None, *, same: bool = True, message: str | None = None) -> T:
    """``row``, written earlier under the request's key, marked ``replayed`` to be answered again.

    IdempotencyConflict when it was written for a different request: another fingerprint (a row
    kept without one, from before fingerprints were stored, is not compared) or ``same`` False."""
    stored = getattr(row, "request_hash", "") if fingerprint is not None else ""
    if not same or (stored and stored != digest(fingerprint)):
        raise IdempotencyConflict(message)
    row.replayed = True
    return row


def replayed(model: type[models.Model], brand, key: str, fingerprint: str, *, field: str = "key"):
    """The ``model`` row of ``brand`` written under ``key`` (as a replay), or None if there is none."""
    row = model.objects.for_brand(brand).filter(**{field: key}).first()
    return None if row is None else replay(row, fingerprint)


def once(
    find: Callable[[], T | None], write: Callable[[], T], *, lock: Callable[[], object] | None = None
) -> T:
    """The row ``find`` returns (a replay), else what ``write`` makes in a savepoint, marked not
    replayed. ``lock``, when given, runs if ``find`` found nothing, and ``find`` looks again after it
    (a twin request that held the lock has written its row by then). When a concurrent request with
    the same key wins the unique constraint, its row is the answer (the caller's transaction stays
    usable); any other IntegrityError, with no row under the key, propagates."""
    row = find()
    if row is None and lock is not None:
        lock()
        row = find()
    if row is not None:
        return row
    try:
        with transaction.atomic():
            row = write()
    except IntegrityError:
        row = find()
        if row is None:
            raise
        return row
    if row is not None:
        row.replayed = False
    return row


def _replayed(answer) -> bool:
    return answer if isinstance(answer, bool) else getattr(answer, "replayed", False)


def answer_status(answer) -> int:
    """201 for a row just written, 200 for a replay (``answer``: the row, or whether it replays)."""
    return 200 if _replayed(answer) else 201


def answer_headers(answer) -> dict[str, str] | None:
    """``Idempotent-Replayed: true`` on a replay (``answer``: the row, or whether it replays)."""
    return dict(REPLAYED_HEADERS) if _replayed(answer) else None


# --- the generic record of an API POST -------------------------------------------------------

# How long a POST's first answer is kept for a retry with the same key.
RECORD_HOURS = 24


def principal(staff) -> str:
    """Who a record belongs to: the calling staff member (a partner app acts as its service staff)."""
    return f"staff:{staff.pk}"


def _canonical(value):
    """A request body as plain JSON data: form data as lists per name, files by name, size, hash."""
    from django.core.files.uploadedfile import UploadedFile
    from django.http import QueryDict

    if isinstance(value, QueryDict):
        return {k: [_canonical(v) for v in value.getlist(k)] for k in sorted(value.keys())}
    if isinstance(value, UploadedFile):
        sha = hashlib.sha256()
        for chunk in value.chunks():
            sha.update(chunk)
        value.seek(0)
        return {"file": value.name, "size": value.size, "sha256": sha.hexdigest()}
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def body_fingerprint(method: str, path: str, data) -> str:
    """sha256 of the method, the path (with its query) and the canonical body: the same request,
    whatever the order of its JSON keys, has the same fingerprint."""
    body = json.dumps(_canonical(data), sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(f"{method.upper()} {path}\n{body}".encode()).hexdigest()


def _record_model():
    from retail.models import ApiIdempotencyRecord

    return ApiIdempotencyRecord


def _expired_before():
    import datetime

    from django.utils import timezone

    return timezone.now() - datetime.timedelta(hours=RECORD_HOURS)


def record_claim(*, brand, principal: str, key: str, method: str, path: str, request_hash: str):
    """The key's record for this request. A new one (``replayed`` False, no answer yet) is
    inserted in a savepoint: a concurrent twin's insert waits on the unique index until this
    request's transaction ends, then gets the first request's record. A record of the same
    request (``replayed`` True) holds the first answer; IdempotencyConflict when the key was
    used for another request. A record older than RECORD_HOURS no longer counts."""
    Record = _record_model()

    def find():
        row = Record.objects.for_brand(brand).filter(principal=principal, key=key).first()
        if row is None:
            return None
        # Its time is up, or it was never answered (a twin sees a record only once its request
        # committed, answered): the key is free again.
        if row.created_at < _expired_before() or row.status_code is None:
            row.delete()
            return None
        return replay(row, request_hash)

    return once(
        find,
        lambda: Record.objects.create(
            brand=brand,
            principal=principal,
            key=key,
            method=method.upper(),
            path=path[: Record._meta.get_field("path").max_length],
            request_hash=request_hash,
        ),
    )


def record_answer(record, status_code: int, body, *, keep: bool = True) -> None:
    """Keep ``body`` (JSON data) as the record's answer, to be replayed; an answer of 500 and up, or
    one that cannot be kept (``keep`` False), is not: the record goes, and a retry runs again."""
    if status_code >= 500 or not keep:
        try:
            with transaction.atomic():
                type(record).objects.for_brand(record.brand_id).filter(pk=record.pk).delete()
        except DatabaseError:  # the request's transaction failed: the record goes with it
            pass
        return
    record.status_code = status_code
    record.response_body = body
    record.save(update_fields=["status_code", "response_body"])


def purge_records(brand) -> int:
    """Delete the brand's records older than RECORD_HOURS; how many went."""
    deleted, _by_model = (
        _record_model().objects.for_brand(brand).filter(created_at__lt=_expired_before()).delete()
    )
    return deleted


# --- migrations --------------------------------------------------------------------------------


def scope_legacy_keys(apps, schema_editor, *, model: str, field: str, days: int = 7) -> None:
    """For a data migration: rename the recent ``api:<key>`` keys of ``model`` (stored before keys
    were namespaced by caller) to ``api:<staff id>:<key>``, the staff found from the row's
    ``created_by`` user in its brand, so that a retry sent across the upgrade is still a replay."""
    import datetime
    import re

    from django.utils import timezone

    new_form = re.compile(r"^api:\d+:")
    conn = schema_editor.connection
    app_label, name = model.split(".")
    Row = apps.get_model(app_label, name)
    Staff = apps.get_model("retail", "Staff")
    since = timezone.now() - datetime.timedelta(days=days)
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":  # a data migration sees every brand (row-level security)
            cursor.execute("SELECT set_config('app.bypass_rls', 'on', true)")
    rows = Row._base_manager.filter(**{f"{field}__startswith": "api:", "created_at__gte": since})
    for row in rows.exclude(created_by=None).iterator():
        value = getattr(row, field)
        if new_form.match(value):
            continue
        staff_id = (
            Staff._base_manager.filter(brand_id=row.brand_id, user_id=row.created_by_id)
            .values_list("pk", flat=True)
            .first()
        )
        if staff_id is None:
            continue
        renamed = f"api:{staff_id}:{value[4:]}"
        if len(renamed) <= Row._meta.get_field(field).max_length:
            Row._base_manager.filter(pk=row.pk).update(**{field: renamed})
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            cursor.execute("SELECT set_config('app.bypass_rls', 'off', true)")
