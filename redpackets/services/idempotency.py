"""Replays of money-moving requests: the row written under an idempotency key answers again."""

from __future__ import annotations

import hashlib

from django.db import models
from django.utils.translation import gettext as _

from members.services import IdempotencyConflict
from retail.models import Brand


def digest(fingerprint: str) -> str:
    """A request fingerprint as stored (64 characters at most: longer ones are hashed)."""
    return fingerprint if len(fingerprint) <= 64 else hashlib.sha256(fingerprint.encode()).hexdigest()


def replayed(model: type[models.Model], brand: Brand, key: str, fingerprint: str):
    """The ``model`` row written under ``key`` (marked ``replayed``), None if there is none, or
    IdempotencyConflict when the key was used for a different request."""
    row = model.objects.for_brand(brand).filter(key=key).first()
    if row is None:
        return None
    if row.request_hash != digest(fingerprint):
        raise IdempotencyConflict(
            _("This idempotency key was already used for a different request."), code="idempotency_conflict"
        )
    row.replayed = True
    return row
