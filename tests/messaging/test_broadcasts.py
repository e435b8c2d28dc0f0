"""Mass messages (群发): segments, the count before sending, scheduling, cancelling, the set-based
send with the monthly cap across all senders, muted members, statistics."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import TestCase
from django.utils import timezone

from guides.messaging import broadcast_selectors as sel
from guides.messaging import broadcasts as svc
from guides.messaging import conversations
from guides.messaging.models import Broadcast, Conversation, MassQuota, Message, MessagingSettings
from members.models import Member, MemberTag, Tag, Tier
from retail.events import Actor
from retail.models import AuditLog, Staff
from retail.tenancy import brand_scope
from tests.factories import MemberFactory, ProductFactory, SkuFactory, StaffFactory, StoreFactory
from tests.helpers.tenancy import refresh

pytestmark = pytest.mark.django_db


def members(brand, n, **kw):
    kw.setdefault("marketing_consent", True)
    return [MemberFactory(brand=brand, **kw) for _ in range(n)]


def send_now(brand, staff, *, guide_only=False, segment=None, body="新品到店", **kw):
    """Create a broadcast for now; its send task runs once the creation commits."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        b = svc.broadcast_create(
            brand=brand,
            staff=staff,
            actor=Actor.system(),
            guide_only=guide_only,
            body=body,
            segment=segment,
            **kw,
        )
    refresh(b)
    return b


def set_cap(brand, cap):
    s = conversations.settings_get(brand=brand)
    with brand_scope(brand):
        MessagingSettings.objects.filter(pk=s.pk).update(mass_cap=cap)


def test_a_guides_broadcast_reaches_only_her_consenting_members(brand, store, guide):
    mine = members(brand, 3, guide=guide)
    muted = MemberFactory(brand=brand, guide=guide, marketing_consent=False)
    other_guide = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store])
    theirs = members(brand, 2, guide=other_guide)
    b = send_now(brand, guide, guide_only=True, segment={"tier": 999})  # a guide's segment is ignored
    assert (b.status, b.matched, b.sent, b.skipped_muted, b.skipped_cap) == ("sent", 4, 3, 1, 0)
    with brand_scope(brand):
        got = set(
            Message.objects.filter(broadcast=b).values_list("conversation__member_id", "sender", "staff_id")
        )
        assert got == {(m.pk, "guide", guide.pk) for m in mine}
        assert not Conversation.objects.filter(member__in=[muted, *theirs]).exists()
        conv = Conversation.objects.get(member=mine[0])
    assert (conv.member_unread, conv.last_preview, conv.last_sender) == (1, "新品到店", "guide")


def test_segment_by_tags_any_tier_store_guide_and_purchase(brand, store, guide, brand_admin):
    other_store = StoreFactory(brand=brand, code="SH002")
    g2 = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[other_store])
    with brand_scope(brand):
        gold = Tier.objects.create(brand=brand, code="gold", name="Gold", min_spend_fen=100)
        t1, t2 = Tag.objects.create(brand=brand, name="A"), Tag.objects.create(brand=brand, name="B")
    now = timezone.now()
    a, b, c, d = (
        MemberFactory(brand=brand, guide=guide, tier=gold, marketing_consent=True, last_purchase_at=now),
        MemberFactory(
            brand=brand, guide=g2, marketing_consent=True, last_purchase_at=now - datetime.timedelta(days=100)
        ),
        MemberFactory(brand=brand, guide=g2, join_store=store, marketing_consent=True),
        MemberFactory(brand=brand, guide=g2, marketing_consent=True, status=Member.Status.ERASED),
    )
    with brand_scope(brand):
        MemberTag.objects.create(brand=brand, member=a, tag=t1)
        MemberTag.objects.create(brand=brand, member=b, tag=t2)
        MemberTag.objects.create(brand=brand, member=d, tag=t2)

    def who(segment):
        seg = svc.segment_clean(brand=brand, staff=brand_admin, segment=segment, guide_only=False)
        with brand_scope(brand):
            return set(sel.audience(brand=brand, segment=seg).values_list("pk", flat=True))

    assert who({}) == {a.pk, b.pk, c.pk}  # active members only
    assert who({"tags": [t1.pk, t2.pk]}) == {a.pk, b.pk}  # any of the tags
    assert who({"tier": gold.pk}) == {a.pk}
    assert who({"store": store.pk}) == {a.pk, c.pk}  # guide works there, or joined there
    assert who({"store": other_store.pk}) == {b.pk, c.pk}
    assert who({"guide": g2.pk}) == {b.pk, c.pk}
    assert who({"bought_within_days": 30}) == {a.pk}
    assert who({"not_bought_days": 30}) == {b.pk, c.pk}  # never bought counts
    assert who({"tags": [t2.pk], "not_bought_days": 30}) == {b.pk}


@pytest.mark.parametrize(
    "segment",
    [
        {"nope": 1},
        {"tier": "x"},
        {"tier": 10**12},
        {"tags": list(range(1, 30))},
        {"tags": "1"},
        {"bought_within_days": 0},
        {"not_bought_days": 99999},
        {"guide": True},
        ["tier"],
    ],
)
def test_bad_segments_are_refused(brand, brand_admin, segment):
    with pytest.raises(ValidationError):
        svc.broadcast_create(
            brand=brand, staff=brand_admin, actor=None, guide_only=False, body="x", segment=segment
        )
    assert not Broadcast.objects.for_brand(brand).exists()


def test_other_brands_ids_in_a_segment_are_refused(brand, other_brand, brand_admin, other_store):
    with brand_scope(other_brand):
        tier = Tier.objects.create(brand=other_brand, code="g", name="G", min_spend_fen=1)
    for seg in ({"tier": tier.pk}, {"store": other_store.pk}):
        with pytest.raises(ValidationError):
            svc.broadcast_create(
                brand=brand, staff=brand_admin, actor=None, guide_only=False, body="x", segment=seg
            )


def test_guides_may_not_send_to_segments_and_store_managers_only_to_their_stores(
    brand, store, guide, store_manager
):
    with pytest.raises(PermissionDenied):
        svc.broadcast_create(brand=brand, staff=guide, actor=None, guide_only=False, body="x")
    elsewhere = StoreFactory(brand=brand, code="SH009")
    with pytest.raises(ValidationError):
        svc.broadcast_create(
            brand=brand,
            staff=store_manager,
            actor=None,
            guide_only=False,
            body="x",
            segment={"store": elsewhere.pk},
        )
    g2 = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[elsewhere])
    mine = members(brand, 2, guide=guide)
    members(brand, 2, guide=g2)
    b = send_now(brand, store_manager)
    assert b.sent == 2
    with brand_scope(brand):
        assert set(Message.objects.filter(broadcast=b).values_list("conversation__member_id", flat=True)) == {
            m.pk for m in mine
        }


@pytest.mark.parametrize("body", ["", "   ", "x" * 1001, "a\x00b"])
def test_bad_text_is_refused(brand, guide, body):
    with pytest.raises(ValidationError):
        svc.broadcast_create(brand=brand, staff=guide, actor=None, guide_only=True, body=body)
    assert not Broadcast.objects.for_brand(brand).exists()


def test_the_cap_applies_across_senders_and_the_preview_counts_it(brand, store, guide, brand_admin):
    set_cap(brand, 2)
    ms = members(brand, 3, guide=guide)
    MemberFactory(brand=brand, guide=guide, marketing_consent=False)
    with brand_scope(brand):  # ms[0] already got two this month
        MassQuota.objects.create(brand=brand, member=ms[0], month=sel.quota_month(), count=2)
    p = sel.broadcast_preview(brand=brand, staff=guide, segment={}, guide_only=True)
    assert (p.matched, p.muted, p.capped, p.will_send) == (4, 1, 1, 2)
    first = send_now(brand, guide, guide_only=True)
    assert (first.sent, first.skipped_cap, first.skipped_muted) == (2, 1, 1)
    second = send_now(brand, brand_admin, body="品牌活动")  # the brand's counts with the guide's
    assert (second.sent, second.skipped_cap) == (2, 1)
    third = send_now(brand, brand_admin, body="再来一次")
    assert (third.sent, third.skipped_cap) == (0, 3)
    with brand_scope(brand):
        counts = dict(MassQuota.objects.values_list("member_id", "count"))
        assert counts == {ms[0].pk: 2, ms[1].pk: 2, ms[2].pk: 2}
        assert not Message.objects.filter(broadcast=third).exists()
        assert Message.objects.filter(conversation__member=ms[1], broadcast__isnull=False).count() == 2
        assert set(Message.objects.filter(broadcast=second).values_list("sender", "staff_id")) == {
            ("brand", None)
        }
    p = sel.broadcast_preview(brand=brand, staff=brand_admin, segment={}, guide_only=False)
    assert (p.matched, p.will_send) == (4, 0)


def test_a_new_month_starts_a_new_count(brand, guide):
    set_cap(brand, 1)
    (m,) = members(brand, 1, guide=guide)
    last_month = sel.quota_month() - datetime.timedelta(days=1)
    with brand_scope(brand):
        MassQuota.objects.create(brand=brand, member=m, month=last_month.replace(day=1), count=1)
    assert send_now(brand, guide, guide_only=True).sent == 1


def test_a_cap_of_zero_sends_nothing(brand, guide):
    set_cap(brand, 0)
    members(brand, 2, guide=guide)
    b = send_now(brand, guide, guide_only=True)
    assert (b.status, b.sent, b.skipped_cap) == ("sent", 0, 2)


def test_sending_is_claimed_once(brand, guide):
    members(brand, 2, guide=guide)
    b = send_now(brand, guide, guide_only=True)
    assert svc.broadcast_send(brand=brand, broadcast_id=b.pk) is None  # a second run finds it sent
    with brand_scope(brand):
        assert Message.objects.filter(broadcast=b).count() == 2


def test_batches_resume_from_the_cursor_after_a_dead_worker(brand, guide, monkeypatch):
    monkeypatch.setattr(svc, "BATCH", 2)
    ms = members(brand, 5, guide=guide)
    with brand_scope(brand):
        Conversation.objects.create(brand=brand, member=ms[1])  # an existing conversation is reused
    soon = timezone.now() + datetime.timedelta(minutes=5)
    b = svc.broadcast_create(brand=brand, staff=guide, actor=None, guide_only=True, body="x", send_at=soon)
    # A worker took it and died after its first batch.
    with brand_scope(brand):
        Broadcast.objects.filter(pk=b.pk).update(send_at=timezone.now())
    claimed = svc.broadcast_claim(brand=brand, broadcast_id=b.pk)
    svc._send_batch(brand=brand, b=claimed, cap=4, month=sel.quota_month())
    assert svc.broadcasts_due(brand=brand) == []  # its lease holds
    with brand_scope(brand):
        Broadcast.objects.filter(pk=b.pk).update(lease_until=timezone.now() - datetime.timedelta(seconds=1))
    assert svc.broadcasts_due(brand=brand) == [b.pk]
    done = svc.broadcast_send(brand=brand, broadcast_id=b.pk)
    assert (done.status, done.matched, done.sent) == ("sent", 5, 5)
    with brand_scope(brand):
        assert Message.objects.filter(broadcast=b).count() == 5
        assert Conversation.objects.filter(member__in=ms).count() == 5
        assert set(MassQuota.objects.values_list("count", flat=True)) == {1}


def test_scheduled_sends_wait_for_their_time_and_can_be_cancelled(brand, guide, brand_admin):
    members(brand, 1, guide=guide)
    later = timezone.now() + datetime.timedelta(hours=2)
    b = svc.broadcast_create(brand=brand, staff=guide, actor=None, guide_only=True, body="x", send_at=later)
    assert b.status == "scheduled"
    assert svc.broadcasts_due(brand=brand) == []
    assert svc.broadcast_send(brand=brand, broadcast_id=b.pk) is None
    with pytest.raises(PermissionDenied):  # a brand admin cancels the brand's, not a guide's
        svc.broadcast_cancel(brand=brand, staff=brand_admin, actor=None, broadcast=b)
    svc.broadcast_cancel(brand=brand, staff=guide, actor=Actor.system(), broadcast=b)
    refresh(b)
    assert b.status == "cancelled"
    with pytest.raises(ValidationError):
        svc.broadcast_cancel(brand=brand, staff=guide, actor=None, broadcast=b)
    with brand_scope(brand):
        actions = list(AuditLog.unscoped.filter(brand=brand).values_list("action", flat=True))
    assert "broadcast.created" in actions and "broadcast.cancelled" in actions


def test_the_beat_sends_due_broadcasts(brand, guide):
    from guides.messaging import tasks

    members(brand, 2, guide=guide)
    b = svc.broadcast_create(
        brand=brand, staff=guide, actor=None, guide_only=True, body="x",
        send_at=timezone.now() + datetime.timedelta(minutes=3),
    )  # fmt: skip
    tasks.broadcasts_minutely.apply()
    refresh(b)
    assert b.status == "scheduled"
    with brand_scope(brand):
        Broadcast.objects.filter(pk=b.pk).update(send_at=timezone.now())
    tasks.broadcasts_minutely.apply()
    refresh(b)
    assert (b.status, b.sent) == ("sent", 2)


@pytest.mark.parametrize("delta", [datetime.timedelta(minutes=-10), datetime.timedelta(days=91)])
def test_send_times_in_the_past_or_too_far_are_refused(brand, guide, delta):
    with pytest.raises(ValidationError):
        svc.broadcast_create(
            brand=brand, staff=guide, actor=None, guide_only=True, body="x", send_at=timezone.now() + delta
        )


def test_a_guide_who_left_before_the_time_sends_nothing(brand, guide):
    members(brand, 1, guide=guide)
    b = svc.broadcast_create(
        brand=brand, staff=guide, actor=None, guide_only=True, body="x",
        send_at=timezone.now() + datetime.timedelta(minutes=3),
    )  # fmt: skip
    with brand_scope(brand):
        Broadcast.objects.filter(pk=b.pk).update(send_at=timezone.now())
        Staff.objects.filter(pk=guide.pk).update(status=Staff.Status.LEFT, left_on=datetime.date.today())
    done = svc.broadcast_send(brand=brand, broadcast_id=b.pk)
    assert (done.status, done.sent) == ("cancelled", 0)


def test_read_statistics_come_from_the_members_read_marks(brand, guide):
    ms = members(brand, 3, guide=guide)
    b = send_now(brand, guide, guide_only=True)
    with brand_scope(brand):
        conv = Conversation.objects.get(member=ms[0])
    conversations.conversation_read(brand=brand, conversation=conv, side="member")
    assert sel.broadcast_read_count(brand=brand, broadcast=b) == 1


def test_a_product_card_carries_the_guides_share_link(brand, store, guide):
    product = ProductFactory(brand=brand, name="玫瑰精华")
    SkuFactory(brand=brand, product=product, list_price_fen=19900)
    members(brand, 1, guide=guide)
    b = send_now(brand, guide, guide_only=True, body="", kind="product", product_id=product.pk)
    assert b.data["name"] == "玫瑰精华" and b.data["price_fen"] == 19900
    assert b.data["url"].startswith(f"/g/{brand.slug}/")
    with brand_scope(brand):
        msg = Message.objects.get(broadcast=b)
    assert (msg.kind, msg.data["product"]) == ("product", product.pk)
    with pytest.raises(ValidationError):
        svc.broadcast_create(
            brand=brand, staff=guide, actor=None, guide_only=True, kind="product", product_id=10**9
        )


def test_mass_messages_trigger_no_notices_or_pushes(brand, guide):
    from guides.push import LogPush
    from retail.notify import ConsoleSender

    LogPush.outbox.clear()
    members(brand, 2, guide=guide)
    send_now(brand, guide, guide_only=True)
    assert ConsoleSender.outbox == [] and LogPush.outbox == []
