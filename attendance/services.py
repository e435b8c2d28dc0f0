"""Every write of face data: the policy, consent texts, consent, enrollment and deletion."""

from __future__ import annotations

from typing import Any

import numpy as np
from django.core.exceptions import ValidationError
from django.db.models import F, Max
from django.utils import timezone
from django.utils.translation import gettext as _

from attendance import crypto, faces, gallery
from attendance.labels import FACE_MESSAGES
from attendance.models import AttendancePolicy, ConsentText, FaceConsent, FaceEncoding
from retail import outbox, roles
from retail.events import Actor, record
from retail.models import Brand, Staff
from retail.tenancy import brand_scope

MAX_ENCODINGS = 3
LIVENESS_CHALLENGES = ("blink", "turn")


def policy_get(*, brand: Brand) -> AttendancePolicy:
    """The brand's policy (created with the strict defaults on first use)."""
    with brand_scope(brand):
        policy = AttendancePolicy.objects.for_brand(brand).first()
        if policy is None:
            policy, _created = AttendancePolicy.objects.get_or_create(brand=brand)
        return policy


def policy_update(*, brand: Brand, manager: Staff, actor: Actor, data: dict[str, Any]) -> AttendancePolicy:
    """Change the matching threshold, margin, phone face policy or retention: brand admins only."""
    roles.require(brand, manager, manager.role == Staff.Role.BRAND_ADMIN)
    policy = policy_get(brand=brand)
    with brand_scope(brand):
        policy = AttendancePolicy.objects.for_brand(brand).select_for_update().get(pk=policy.pk)
        changes = {}
        for field in ("match_threshold", "match_margin", "phone_face", "retention_days"):
            if field in data and data[field] != getattr(policy, field):
                changes[field] = [getattr(policy, field), data[field]]
                setattr(policy, field, data[field])
        if not changes:
            return policy
        policy.updated_by = manager
        policy.full_clean(exclude=["brand", "updated_by"])
        if not 0.2 <= policy.match_threshold <= 0.6:
            raise ValidationError({"match_threshold": _("Between 0.20 and 0.60.")}, code="invalid")
        if not 0.0 <= policy.match_margin <= 0.3:
            raise ValidationError({"match_margin": _("Between 0.00 and 0.30.")}, code="invalid")
        policy.save()
        record(brand=brand, actor=actor, action="attendance.policy", data={"changes": changes})
    return policy


def _bump_gallery(brand: Brand) -> None:
    policy_get(brand=brand)
    AttendancePolicy.objects.for_brand(brand).update(gallery_version=F("gallery_version") + 1)


def consent_text_publish(*, brand: Brand, manager: Staff, actor: Actor, title: str, body: str) -> ConsentText:
    """A new version of the brand's consent text; staff who consented to an older one are asked again
    before their next enrollment."""
    roles.require(brand, manager, manager.role == Staff.Role.BRAND_ADMIN)
    title, body = (title or "").strip(), (body or "").strip()
    if not title or not body:
        raise ValidationError(_("A consent text needs a title and a text."), code="invalid")
    with brand_scope(brand):
        last = ConsentText.objects.for_brand(brand).aggregate(v=Max("version"))["v"] or 0
        text = ConsentText(brand=brand, version=last + 1, title=title[:100], body=body, created_by=manager)
        text.save()
        record(
            brand=brand, actor=actor, action="face.consent_text", target=text, data={"version": text.version}
        )
    return text


def consent_give(*, brand: Brand, staff: Staff, actor: Actor, text: ConsentText) -> FaceConsent:
    """The staff member's own, separate consent to the current text (never given for them)."""
    with brand_scope(brand):
        current = ConsentText.objects.for_brand(brand).order_by("-version").first()
        if current is None or current.pk != text.pk:
            raise ValidationError(_("The consent text changed. Read the current one."), code="stale_consent")
        FaceConsent.objects.for_brand(brand).filter(staff=staff, withdrawn_at__isnull=True).update(
            withdrawn_at=timezone.now()
        )
        consent = FaceConsent.objects.create(
            brand=brand, staff=staff, text=text, ip=actor.ip, user_agent=actor.user_agent
        )
        record(
            brand=brand,
            actor=actor,
            action="face.consent_given",
            target=staff,
            data={"version": text.version},
        )
    return consent


def consent_active(*, brand: Brand, staff: Staff) -> FaceConsent | None:
    with brand_scope(brand):
        return (
            FaceConsent.objects.for_brand(brand)
            .select_related("text")
            .filter(staff=staff, withdrawn_at__isnull=True)
            .first()
        )


def encodings_delete(*, brand: Brand, staff: Staff, actor: Actor, reason: str) -> int:
    """Delete every face encoding of the person (consent withdrawn, left the brand, retention)."""
    with brand_scope(brand):
        deleted, _rows = FaceEncoding.objects.for_brand(brand).filter(staff=staff).delete()
        if deleted:
            _bump_gallery(brand)
            record(
                brand=brand,
                actor=actor,
                action="face.deleted",
                target=staff,
                data={"reason": reason, "count": deleted},
            )
    return deleted


def consent_withdraw(*, brand: Brand, staff: Staff, actor: Actor) -> int:
    """Withdraw consent: the person's encodings are deleted at once; returns how many."""
    with brand_scope(brand):
        withdrawn = (
            FaceConsent.objects.for_brand(brand)
            .filter(staff=staff, withdrawn_at__isnull=True)
            .update(withdrawn_at=timezone.now())
        )
        if withdrawn:
            record(brand=brand, actor=actor, action="face.consent_withdrawn", target=staff)
        return encodings_delete(brand=brand, staff=staff, actor=actor, reason="consent_withdrawn")


def _refuse(code: str) -> ValidationError:
    return ValidationError(str(FACE_MESSAGES.get(code, FACE_MESSAGES["bad_image"])), code=code)


def face_enroll(
    *,
    brand: Brand,
    staff: Staff,
    actor: Actor,
    frames: list[list[faces.Face]],
    challenge: str,
    source: str,
) -> FaceEncoding:
    """Enroll one face from a few frames already analysed (attendance/pool.py): each frame holds
    exactly one face of usable quality, the frames answer the liveness challenge, the face matches
    the person's earlier encodings and NO other active person of the brand. Only the encoding is kept,
    encrypted; the oldest is dropped past three."""
    if consent_active(brand=brand, staff=staff) is None:
        raise ValidationError(_("Give your consent to face processing first."), code="no_consent")
    for found in frames:
        if not found:
            raise _refuse("no_face")
        if len(found) > 1:
            raise _refuse("many_faces")
        try:
            faces.check_quality(found[0].quality)
        except faces.FaceError as exc:
            raise _refuse(exc.code) from exc
    if challenge not in LIVENESS_CHALLENGES or not faces.liveness([f[0].quality for f in frames], challenge):
        raise _refuse("liveness")
    best = max(
        (f[0] for f in frames), key=lambda face: (abs(face.quality["yaw"]) < 0.15, face.quality["blur"])
    )
    encoding = best.encoding
    policy = policy_get(brand=brand)
    known = gallery.load(brand, purpose="enrollment", actor=actor)
    others, owners = known.excluding(staff.pk)
    d = faces.distances(others, encoding)
    if d.size and float(d.min()) <= policy.match_threshold:
        other_id = int(owners[int(np.argmin(d))])
        _duplicate(brand=brand, staff=staff, other_id=other_id, actor=actor, distance=float(d.min()))
        raise ValidationError(
            _("This face is already enrolled for another person. Your brand admin has been told."),
            code="duplicate_face",
        )
    mine = known.matrix[known.owners == staff.pk]
    if mine.size and float(faces.distances(mine, encoding).min()) > policy.match_threshold:
        raise ValidationError(
            _("This face does not match the face you enrolled before. Delete your face data to start again."),
            code="not_same_person",
        )
    ciphertext, key_id = crypto.encrypt(encoding)
    with brand_scope(brand):
        row = FaceEncoding.objects.create(
            brand=brand,
            staff=staff,
            ciphertext=ciphertext,
            key_id=key_id,
            source=source,
            quality={k: best.quality[k] for k in ("size", "blur", "brightness", "yaw", "roll")},
        )
        extra = list(
            FaceEncoding.objects.for_brand(brand)
            .filter(staff=staff)
            .order_by("-created_at", "-id")[MAX_ENCODINGS:]
        )
        if extra:
            FaceEncoding.objects.for_brand(brand).filter(pk__in=[e.pk for e in extra]).delete()
        _bump_gallery(brand)
        record(brand=brand, actor=actor, action="face.enrolled", target=staff, data={"source": source})
    return row


def _duplicate(*, brand: Brand, staff: Staff, other_id: int, actor: Actor, distance: float) -> None:
    """Refused as a face already enrolled for someone else: audited with both names, and the brand's
    admins are told (outbox ``face.duplicate``)."""
    with brand_scope(brand):
        other = Staff.objects.for_brand(brand).filter(pk=other_id).first()
        names = {"staff": staff.name, "other": other.name if other else ""}
        record(
            brand=brand,
            actor=actor,
            action="face.enrollment_refused",
            target=staff,
            data={**names, "other_id": other_id, "distance": round(distance, 3)},
        )
        outbox.emit(
            brand_id=brand.pk,
            name="face.duplicate",
            payload={"staff_id": staff.pk, "other_id": other_id, **names},
        )
