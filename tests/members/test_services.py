"""Membership services: joining, binding rules, identities and merges, points, tags, hand-over,
privacy."""

import datetime
import threading

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone

from members import services
from members.models import (
    ConsentRecord,
    GuideBinding,
    Member,
    MemberIdentity,
    MembershipProgram,
    MemberTag,
    MergeRecord,
    PointsEntry,
    Tag,
    TagRule,
    Tier,
)
from retail.events import Actor
from retail.idempotency import IdempotencyConflict
from retail.models import AuditLog, Staff
from retail.tenancy import brand_scope
from tests.factories import MemberFactory, StaffFactory, StoreFactory

pytestmark = pytest.mark.django_db
SYS = Actor.system()


def fresh(obj):
    """Reload inside the brand's scope (related rows too: outside it they would read as absent)."""
    with brand_scope(obj.brand_id):
        qs = type(obj).objects.all()
        if isinstance(obj, Member):
            qs = qs.select_related("tier", "guide")
        return qs.get(pk=obj.pk)


# --- joining ---------------------------------------------------------------------------------


def test_join_creates_member_bound_to_guide_with_consent(brand, guide, store):
    r = services.member_join(brand=brand, phone="+86 137 0000 0001", guide=guide, consent=True, ip="1.2.3.4")
    assert r.created and r.guide_changed
    with brand_scope(brand):
        m = Member.objects.get(pk=r.member.pk)
        assert m.guide_id == guide.pk and m.join_guide_id == guide.pk and m.join_store_id == store.pk
        assert m.marketing_consent
        ident = MemberIdentity.objects.get(member=m)
        assert (ident.kind, ident.value, ident.verified) == ("phone", "13700000001", True)
        consent = ConsentRecord.objects.get(member=m)
        assert (consent.granted, consent.source, consent.ip) == (True, "join_page", "1.2.3.4")
        assert GuideBinding.objects.get(member=m).start_reason == "join"
        assert AuditLog.objects.filter(action="member.joined", target_id=str(m.pk)).exists()


def test_existing_member_is_recognised_not_duplicated(brand, guide):
    a = services.member_join(brand=brand, phone="13700000001", guide=guide, consent=False)
    b = services.member_join(brand=brand, phone="137 0000 0001", guide=guide, consent=True)
    assert not b.created and b.member.pk == a.member.pk
    with brand_scope(brand):
        assert Member.objects.count() == 1
        assert list(ConsentRecord.objects.order_by("id").values_list("granted", flat=True)) == [False, True]


def test_second_guide_does_not_steal_the_member_by_default(brand, guide, store):
    other_guide = StaffFactory(brand=brand, stores=[store])
    services.member_join(brand=brand, phone="13700000001", guide=guide, consent=False)
    r = services.member_join(brand=brand, phone="13700000001", guide=other_guide, consent=False)
    assert not r.guide_changed and r.kept_guide.pk == guide.pk
    assert fresh(r.member).guide_id == guide.pk


def test_latest_guide_policy_and_expired_binding_rebind(brand, guide, store):
    other_guide = StaffFactory(brand=brand, stores=[store])
    program = services.program_get(brand=brand)
    with brand_scope(brand):
        MembershipProgram.objects.filter(pk=program.pk).update(binding_ttl_days=30)
    m = services.member_join(brand=brand, phone="13700000001", guide=guide, consent=False).member
    with brand_scope(brand):
        GuideBinding.objects.filter(member=m).update(started_at=timezone.now() - datetime.timedelta(days=31))
    r = services.member_join(brand=brand, phone="13700000001", guide=other_guide, consent=False)
    assert r.guide_changed and fresh(m).guide_id == other_guide.pk
    with brand_scope(brand):
        reasons = list(
            GuideBinding.objects.filter(member=m).order_by("id").values_list("start_reason", "end_reason")
        )
    assert reasons == [("join", "rebind"), ("rebind", "")]


def test_member_may_ask_for_another_guide(brand, guide, store):
    other_guide = StaffFactory(brand=brand, stores=[store])
    m = services.member_join(brand=brand, phone="13700000001", guide=guide, consent=False).member
    services.member_guide_request(brand=brand, member=m, guide=other_guide)
    assert fresh(m).guide_id == other_guide.pk


def test_join_through_a_guide_of_another_brand_binds_nobody(brand, other_admin, other_brand):
    foreign = StaffFactory(brand=other_brand)
    r = services.member_join(brand=brand, phone="13700000001", guide=foreign, consent=False)
    assert r.created and fresh(r.member).guide_id is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_joins_of_one_phone_make_one_member(brand, guide):
    barrier = threading.Barrier(8)
    out = []

    def join():
        try:
            barrier.wait()
            out.append(
                services.member_join(brand=brand, phone="13700000009", guide=guide, consent=True).member.pk
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=join) for _ in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(out) == 8 and len(set(out)) == 1
    with brand_scope(brand):
        assert Member.objects.count() == 1 and GuideBinding.objects.count() == 1


# --- identities and merges --------------------------------------------------------------------


def test_any_identity_finds_the_member(brand, member):
    services.member_identity_add(
        brand=brand, member=member, kind="card", value="vip 0001", verified=False, actor=SYS
    )
    assert services.member_find(brand=brand, kind="card", value="VIP0001").pk == member.pk
    assert services.member_find(brand=brand, kind="phone", value="+8613711112222").pk == member.pk
    assert services.member_find(brand=brand, kind="shop", value="nobody") is None
    assert services.member_find(brand=brand, kind="phone", value="garbage") is None


def test_other_brands_identity_never_matches(brand, other_member):
    assert services.member_find(brand=brand, kind="phone", value="13711112222") is None


def test_unverified_clash_is_refused_not_merged(brand, member):
    other = MemberFactory(brand=brand, phone="13799990000")
    services.member_identity_add(
        brand=brand, member=other, kind="card", value="C1", verified=False, actor=SYS
    )
    with pytest.raises(ValidationError):
        services.member_identity_add(
            brand=brand, member=member, kind="card", value="C1", verified=True, actor=SYS
        )


def _setup_pair(brand, guide, store):
    """An offline member (card, points, tags, bound to a guide) and a newer online one."""
    tag_a = services.tag_create(brand=brand, manager=_admin(brand), actor=SYS, name="高价值")
    tag_b = services.tag_create(brand=brand, manager=_admin(brand), actor=SYS, name="爱促销")
    offline = services.member_join(brand=brand, phone="13700000001", guide=guide, consent=True).member
    services.points_earn(brand=brand, member=offline, points=300, source="pos:1", spend_fen=30000)
    services.member_tags_change(brand=brand, staff=guide, actor=SYS, member=offline, add=[tag_a.pk])
    online, _ = services.member_create(
        brand=brand, actor=SYS, identities=[("shop", "tb_zhang"), ("payment", "alipay_2088")], verified=True
    )
    services.points_earn(brand=brand, member=online, points=200, source="shop:9", spend_fen=50000)
    services.points_redeem(brand=brand, member=online, points=50, source="shop:redeem:1")
    services.member_tags_change(brand=brand, staff=guide, actor=SYS, member=online, add=[tag_a.pk, tag_b.pk])
    return offline, online, tag_a, tag_b


def _admin(brand):
    with brand_scope(brand):
        admin = Staff.objects.filter(role=Staff.Role.BRAND_ADMIN).first()
    return admin or StaffFactory(brand=brand, role=Staff.Role.BRAND_ADMIN)


def test_verified_payment_account_merges_and_everything_survives(brand, guide, store):
    services.tier_save(
        brand=brand,
        manager=_admin(brand),
        actor=SYS,
        data={"code": "gold", "name": "金卡", "min_spend_fen": 60000},
    )
    offline, online, tag_a, tag_b = _setup_pair(brand, guide, store)
    # The POS now sees the offline member pay with the online member's payment account.
    survivor, record = services.member_identity_add(
        brand=brand, member=offline, kind="payment", value="alipay_2088", verified=True, actor=SYS
    )
    assert survivor.pk == offline.pk and record is not None
    s, a = fresh(offline), fresh(online)
    assert (a.status, a.merged_into_id, a.points_balance) == ("merged", s.pk, 0)
    assert s.points_balance == 450 and s.qualifying_spend_fen == 80000 and s.tier.code == "gold"
    assert s.guide_id == guide.pk
    with brand_scope(brand):
        assert set(MemberIdentity.objects.filter(member=s).values_list("kind", flat=True)) == {
            "phone",
            "shop",
            "payment",
        }
        assert set(MemberTag.objects.filter(member=s).values_list("tag_id", flat=True)) == {
            tag_a.pk,
            tag_b.pk,
        }
    assert services.member_find(brand=brand, kind="shop", value="tb_zhang").pk == s.pk
    assert services.points_reconcile(brand=brand) == []


def test_merge_undo_restores_both(brand, guide, store):
    offline, online, tag_a, tag_b = _setup_pair(brand, guide, store)
    _, record = services.member_identity_add(
        brand=brand, member=offline, kind="payment", value="alipay_2088", verified=True, actor=SYS
    )
    services.merge_undo(brand=brand, manager=_admin(brand), actor=SYS, record=record)
    s, a = fresh(offline), fresh(online)
    assert (a.status, a.merged_into_id, a.points_balance, a.qualifying_spend_fen) == (
        "active",
        None,
        150,
        50000,
    )
    assert (s.points_balance, s.qualifying_spend_fen) == (300, 30000)
    with brand_scope(brand):
        assert set(MemberIdentity.objects.filter(member=a).values_list("kind", flat=True)) == {
            "shop",
            "payment",
        }
        assert set(MemberTag.objects.filter(member=s).values_list("tag_id", flat=True)) == {tag_a.pk}
        assert MergeRecord.objects.get().undone_at is not None
    assert services.points_reconcile(brand=brand) == []
    with pytest.raises(ValidationError):
        services.merge_undo(brand=brand, manager=_admin(brand), actor=SYS, record=record)


def test_merge_moves_the_absorbed_binding_when_survivor_has_none(brand, guide, store):
    lone, _ = services.member_create(brand=brand, actor=SYS, identities=[("payment", "p1")], verified=True)
    bound = services.member_join(brand=brand, phone="13700000001", guide=guide, consent=False).member
    with brand_scope(brand):
        Member.objects.filter(pk=lone.pk).update(joined_at=timezone.now() - datetime.timedelta(days=9))
    services.member_identity_add(
        brand=brand, member=bound, kind="payment", value="p1", verified=True, actor=SYS
    )
    assert fresh(lone).guide_id == guide.pk


def test_only_admins_undo_merges(brand, guide, store):
    offline, online, *_ = _setup_pair(brand, guide, store)
    _, record = services.member_identity_add(
        brand=brand, member=offline, kind="payment", value="alipay_2088", verified=True, actor=SYS
    )
    with pytest.raises(PermissionDenied):
        services.merge_undo(brand=brand, manager=guide, actor=SYS, record=record)


# --- points -------------------------------------------------------------------------------------


def test_points_are_applied_once_per_source(brand, member):
    e1 = services.points_earn(brand=brand, member=member, points=100, source="order:1")
    e2 = services.points_earn(brand=brand, member=member, points=100, source="order:1")
    assert e1.pk == e2.pk and e2.replayed
    assert fresh(member).points_balance == 100
    with pytest.raises(IdempotencyConflict):
        services.points_earn(brand=brand, member=member, points=999, source="order:1")
    assert fresh(member).points_balance == 100


def test_redeem_never_goes_negative(brand, member):
    services.points_earn(brand=brand, member=member, points=100, source="e1")
    with pytest.raises(ValidationError):
        services.points_redeem(brand=brand, member=member, points=101, source="r1")
    services.points_redeem(brand=brand, member=member, points=100, source="r2")
    assert fresh(member).points_balance == 0


@pytest.mark.parametrize("bad", [0, -5, 1.5, "10", None, True])
def test_points_must_be_positive_integers(brand, member, bad):
    with pytest.raises(ValidationError):
        services.points_earn(brand=brand, member=member, points=bad, source="x")
    with pytest.raises(ValidationError):
        services.points_redeem(brand=brand, member=member, points=bad, source="y")


def test_redeem_spends_soonest_expiring_lots_first_and_expiry_takes_the_rest(brand, member):
    services.points_earn(brand=brand, member=member, points=100, source="old")
    services.points_earn(brand=brand, member=member, points=50, source="new")
    with brand_scope(brand):
        old = PointsEntry.objects.get(source="old")
        PointsEntry.objects.filter(pk=old.pk).update(expires_at=timezone.now() + datetime.timedelta(days=1))
    services.points_redeem(brand=brand, member=member, points=30, source="spend")
    with brand_scope(brand):
        assert PointsEntry.objects.get(source="old").remaining == 70
        assert PointsEntry.objects.get(source="new").remaining == 50
    later = timezone.now() + datetime.timedelta(days=2)
    assert services.points_expire_due(brand=brand, now=later) == 1
    assert services.points_expire_due(brand=brand, now=later) == 0  # idempotent
    m = fresh(member)
    assert m.points_balance == 50
    with brand_scope(brand):
        assert PointsEntry.objects.get(kind="expire").amount == -70
    assert services.points_reconcile(brand=brand) == []


def test_points_earned_expire_at_end_of_following_year(brand, member):
    e = services.points_earn(brand=brand, member=member, points=10, source="e")
    local = e.expires_at.astimezone(datetime.timezone(datetime.timedelta(hours=8)))
    assert (local.year, local.month, local.day) == (timezone.now().year + 1, 12, 31)


def test_online_points_spent_in_store(brand, member, store):
    """One balance across channels: earned from the online shop, redeemed at the POS."""
    services.member_identity_add(
        brand=brand, member=member, kind="shop", value="tb_1", verified=True, actor=SYS
    )
    online = services.member_find(brand=brand, kind="shop", value="tb_1")
    services.points_earn(brand=brand, member=online, points=500, source="shop:order:77")
    at_pos = services.member_find(brand=brand, kind="phone", value="13711112222")
    services.points_redeem(brand=brand, member=at_pos, points=500, source="pos:S1:redeem:1")
    assert fresh(member).points_balance == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_redemptions_are_exact(brand, member):
    services.points_earn(brand=brand, member=member, points=1000, source="seed")
    barrier = threading.Barrier(20)
    ok, refused = [], []

    def redeem(i):
        try:
            barrier.wait()
            services.points_redeem(brand=brand, member=member, points=70, source=f"r{i}")
            ok.append(i)
        except ValidationError:
            refused.append(i)
        finally:
            connection.close()

    threads = [threading.Thread(target=redeem, args=(i,)) for i in range(20)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(ok) == 14 and len(refused) == 6
    assert fresh(member).points_balance == 1000 - 14 * 70
    assert services.points_reconcile(brand=brand) == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_source_applies_once(brand, member):
    barrier = threading.Barrier(10)
    results = []

    def earn():
        try:
            barrier.wait()
            results.append(services.points_earn(brand=brand, member=member, points=5, source="dup").pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=earn) for _ in range(10)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(set(results)) == 1 and len(results) == 10
    assert fresh(member).points_balance == 5


def test_database_refuses_a_negative_balance(brand, member):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), brand_scope(brand), transaction.atomic():
        Member.objects.filter(pk=member.pk).update(points_balance=-1)


# --- tiers, tags ----------------------------------------------------------------------------------


def test_tier_follows_qualifying_spend_and_recomputes_on_change(brand, member, brand_admin):
    services.tier_save(
        brand=brand, manager=brand_admin, actor=SYS, data={"code": "std", "name": "普卡", "min_spend_fen": 0}
    )
    gold = services.tier_save(
        brand=brand,
        manager=brand_admin,
        actor=SYS,
        data={"code": "gold", "name": "金卡", "min_spend_fen": 100000},
    )
    services.points_earn(brand=brand, member=member, points=1, source="o1", spend_fen=99999)
    assert fresh(member).tier.code == "std"
    services.points_earn(brand=brand, member=member, points=1, source="o2", spend_fen=1)
    assert fresh(member).tier.code == "gold"
    services.tier_save(brand=brand, manager=brand_admin, actor=SYS, tier=gold, data={"min_spend_fen": 200000})
    assert fresh(member).tier.code == "std"
    with pytest.raises(ValidationError):
        services.tier_save(
            brand=brand, manager=brand_admin, actor=SYS, data={"code": "x", "name": "x", "min_spend_fen": 0}
        )


def test_tag_rules_tag_and_untag(brand, brand_admin, member):
    vip = services.tag_create(
        brand=brand, manager=brand_admin, actor=SYS, name="高价值", group=Tag.Group.VALUE
    )
    services.tag_rule_save(
        brand=brand,
        manager=brand_admin,
        actor=SYS,
        tag=vip,
        field="qualifying_spend_fen",
        op="gte",
        value=50000,
    )
    with brand_scope(brand):
        assert not MemberTag.objects.filter(member=member).exists()
    services.points_earn(brand=brand, member=member, points=1, source="o", spend_fen=60000)
    services.tag_rules_apply(brand=brand)
    with brand_scope(brand):
        assert MemberTag.objects.get(member=member).source == "rule"
        TagRule.objects.filter(tag=vip).update(value=70000)
    services.tag_rules_apply(brand=brand)
    with brand_scope(brand):
        assert not MemberTag.objects.filter(member=member).exists()


def test_tags_of_another_brand_are_refused(brand, other_brand, guide, member):
    from tests.factories import BrandFactory  # noqa: F401

    other_admin = StaffFactory(brand=other_brand, role=Staff.Role.BRAND_ADMIN)
    foreign = services.tag_create(brand=other_brand, manager=other_admin, actor=SYS, name="别家")
    with pytest.raises(ValidationError):
        services.member_tags_change(brand=brand, staff=guide, actor=SYS, member=member, add=[foreign.pk])


# --- hand-over -------------------------------------------------------------------------------------


def test_handover_moves_all_or_some_members_and_keeps_history(brand, brand_admin, guide, store):
    successor = StaffFactory(brand=brand, stores=[store])
    ms = [
        services.member_join(brand=brand, phone=f"1370000000{i}", guide=guide, consent=False).member
        for i in range(4)
    ]
    assert (
        services.members_handover(
            brand=brand,
            manager=brand_admin,
            actor=SYS,
            from_guide=guide,
            to_guide=successor,
            member_ids=[ms[0].pk],
        )
        == 1
    )
    assert fresh(ms[0]).guide_id == successor.pk and fresh(ms[1]).guide_id == guide.pk
    assert (
        services.members_handover(
            brand=brand, manager=brand_admin, actor=SYS, from_guide=guide, to_guide=successor
        )
        == 3
    )
    with brand_scope(brand):
        assert Member.objects.filter(guide=successor).count() == 4
        assert GuideBinding.objects.filter(end_reason="handover").count() == 4
        assert GuideBinding.objects.filter(ended_at__isnull=True, guide=successor).count() == 4


def test_store_manager_hands_over_only_within_their_stores(brand, store_manager, guide, store):
    far_store = StoreFactory(brand=brand)
    far_guide = StaffFactory(brand=brand, stores=[far_store])
    services.member_join(brand=brand, phone="13700000001", guide=guide, consent=False)
    with pytest.raises(PermissionDenied):
        services.members_handover(
            brand=brand, manager=store_manager, actor=SYS, from_guide=guide, to_guide=far_guide
        )
    with pytest.raises(PermissionDenied):
        services.members_handover(brand=brand, manager=guide, actor=SYS, from_guide=guide, to_guide=far_guide)


def test_left_guide_loses_members_to_the_next_guide_who_signs_them(brand, brand_admin, guide, store):
    next_guide = StaffFactory(brand=brand, stores=[store])
    m = services.member_join(brand=brand, phone="13700000001", guide=guide, consent=False).member
    from retail import services as core

    core.staff_deactivate(brand=brand, manager=brand_admin, actor=SYS, staff=guide)
    r = services.member_join(brand=brand, phone="13700000001", guide=next_guide, consent=False)
    assert r.guide_changed and fresh(m).guide_id == next_guide.pk


# --- privacy --------------------------------------------------------------------------------------


def test_erase_removes_personal_data_and_keeps_ledger_balanced(brand, member, guide):
    services.member_guide_request(brand=brand, member=member, guide=guide)
    services.points_earn(brand=brand, member=member, points=80, source="e")
    services.member_erase(brand=brand, member=member, actor=SYS, source=ConsentRecord.Source.MEMBER_PAGE)
    m = fresh(member)
    assert (m.status, m.name, m.guide_id, m.marketing_consent) == ("erased", "", None, False)
    with brand_scope(brand):
        assert not MemberIdentity.objects.filter(member=m).exists()
        assert PointsEntry.objects.filter(member=m).count() == 1
    assert services.member_find(brand=brand, kind="phone", value="13711112222") is None
    assert services.points_reconcile(brand=brand) == []
    # The same phone can join again as a new member.
    assert services.member_join(brand=brand, phone="13711112222", guide=None, consent=False).created


def test_tiers_exist_per_brand(brand, other_brand, brand_admin):
    services.tier_save(
        brand=brand, manager=brand_admin, actor=SYS, data={"code": "std", "name": "普卡", "min_spend_fen": 0}
    )
    with brand_scope(other_brand):
        assert not Tier.objects.exists()


def test_joining_again_never_withdraws_consent(brand, guide, store):
    other_guide = StaffFactory(brand=brand, stores=[store])
    m = services.member_join(brand=brand, phone="13700000001", guide=guide, consent=True).member
    r = services.member_join(brand=brand, phone="13700000001", guide=other_guide, consent=False)
    assert fresh(m).marketing_consent is True and r.kept_guide.pk == guide.pk
    same = services.member_join(brand=brand, phone="13700000001", guide=guide, consent=False)
    assert same.kept_guide is None and not same.guide_changed


def test_audit_log_names_members_by_number_only(brand, guide):
    m = services.member_join(
        brand=brand, phone="13700000001", guide=guide, consent=True, name="秘密名字"
    ).member
    services.member_erase(brand=brand, member=m, actor=SYS, source="member_page")
    with brand_scope(brand):
        reprs = set(
            AuditLog.objects.filter(target_type="members.Member").values_list("target_repr", flat=True)
        )
    assert reprs == {f"#{m.pk}"}
