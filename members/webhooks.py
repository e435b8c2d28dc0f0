"""The membership programme's public webhook events (see retail/webhooks/catalogue.py):
member.joined and member.merged. Phones only masked."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from members.models import Member, MemberIdentity, MergeRecord
from retail.phones import mask_phone
from retail.webhooks.catalogue import ID, NULLABLE_ID, TIME, EventType, data_schema, iso

NULLABLE_TEXT = {"type": ["string", "null"]}


def build_member_joined(brand_id: int, payload: dict) -> dict | None:
    member = (
        Member.objects.for_brand(brand_id).select_related("tier").filter(pk=payload.get("member_id")).first()
    )
    if member is None:
        return None
    phone = (
        MemberIdentity.objects.for_brand(brand_id)
        .filter(member=member, kind=MemberIdentity.Kind.PHONE)
        .order_by("id")
        .values_list("value", flat=True)
        .first()
    )
    return {
        "member_id": member.pk,
        "name": member.name or None,
        "phone_masked": mask_phone(phone) if phone else None,
        "tier": member.tier.code if member.tier_id else None,
        "join_store_id": member.join_store_id,
        "join_guide_id": member.join_guide_id,
        "marketing_consent": member.marketing_consent,
        "joined_at": iso(member.joined_at),
    }


def build_member_merged(brand_id: int, payload: dict) -> dict | None:
    record = MergeRecord.objects.for_brand(brand_id).filter(pk=payload.get("merge_id")).first()
    if record is None:
        return None
    return {
        "merge_id": record.pk,
        "survivor_id": record.survivor_id,
        "absorbed_id": record.absorbed_id,
        "evidence_kind": record.evidence_kind or None,
        "merged_at": iso(record.created_at),
    }


EVENTS = [
    EventType(
        name="member.joined",
        source="member.joined",
        description=_("A new member joined (through a guide's link, or created through the API)."),
        schema=data_schema(
            {
                "member_id": ID,
                "name": NULLABLE_TEXT,
                "phone_masked": {**NULLABLE_TEXT, "description": "The member's phone, masked (138****0000)."},
                "tier": NULLABLE_TEXT,
                "join_store_id": NULLABLE_ID,
                "join_guide_id": NULLABLE_ID,
                "marketing_consent": {"type": "boolean"},
                "joined_at": TIME,
            },
            title="member.joined",
        ),
        build=build_member_joined,
    ),
    EventType(
        name="member.merged",
        source="member.merged",
        description=_(
            "Two member records were found to be one person: the absorbed member now lives on in "
            "the survivor (its id answers with the survivor)."
        ),
        schema=data_schema(
            {
                "merge_id": ID,
                "survivor_id": ID,
                "absorbed_id": ID,
                "evidence_kind": {"type": ["string", "null"], "enum": [*MemberIdentity.Kind.values, None]},
                "merged_at": TIME,
            },
            title="member.merged",
        ),
        build=build_member_merged,
    ),
]
