"""Writes of the membership programme, one module per concern. Every function takes its brand and
owns its transaction. The names below are the ones other modules call as ``services.<name>``."""

from members.services.access import can_serve
from members.services.binding import member_guide_request, member_guide_set, members_handover
from members.services.joining import member_create, member_find, member_identity_add, member_join
from members.services.merge import members_merge, merge_undo
from members.services.points import (
    points_adjust,
    points_earn,
    points_expire_due,
    points_reconcile,
    points_redeem,
    points_reverse,
)
from members.services.policies import member_policy_publish
from members.services.privacy import member_consent_set, member_erase
from members.services.program import program_get, program_update, tier_save
from members.services.records import member_active, member_update
from members.services.tags import member_tags_change, tag_create, tag_rule_save, tag_rules_apply

__all__ = [
    "can_serve",
    "member_active",
    "member_consent_set",
    "member_create",
    "member_erase",
    "member_find",
    "member_guide_request",
    "member_guide_set",
    "member_identity_add",
    "member_join",
    "member_policy_publish",
    "member_tags_change",
    "member_update",
    "members_handover",
    "members_merge",
    "merge_undo",
    "points_adjust",
    "points_earn",
    "points_expire_due",
    "points_reconcile",
    "points_redeem",
    "points_reverse",
    "program_get",
    "program_update",
    "tag_create",
    "tag_rule_save",
    "tag_rules_apply",
    "tier_save",
]
