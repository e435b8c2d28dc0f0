"""The monthly cap holds when mass messages are sent at the same time (PostgreSQL, real
concurrent transactions)."""

import pytest
from django.db.models import Max

from guides.messaging import broadcasts as svc
from guides.messaging import conversations
from guides.messaging.models import Broadcast, Conversation, MassQuota, Message, MessagingSettings
from retail.models import Staff
from retail.tenancy import brand_scope
from tests.factories import MemberFactory, StaffFactory
from tests.helpers.concurrency import race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_mass_sends_never_take_a_member_over_the_cap(brand, store, brand_admin, monkeypatch):
    monkeypatch.setattr(svc, "BATCH", 7)  # many batches interleaving
    s = conversations.settings_get(brand=brand)
    with brand_scope(brand):
        MessagingSettings.objects.filter(pk=s.pk).update(mass_cap=2)
    guide = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store])
    ms = [MemberFactory(brand=brand, guide=guide, marketing_consent=True) for _ in range(40)]
    # Four senders at once: the guide's and three of the brand's, all to the same members.
    made = [
        svc.broadcast_create(brand=brand, staff=guide, actor=None, guide_only=True, body="导购群发"),
        *[
            svc.broadcast_create(
                brand=brand, staff=brand_admin, actor=None, guide_only=False, body=f"品牌{i}"
            )
            for i in range(3)
        ],
    ]
    with brand_scope(brand):  # the tasks queued at creation ran eagerly: start again from scratch
        Message.objects.all().delete()
        Conversation.objects.all().delete()
        MassQuota.objects.all().delete()
        Broadcast.objects.update(
            status="scheduled", matched=0, sent=0, skipped_cap=0, skipped_muted=0, cursor=0
        )

    results, errors = race(len(made), lambda i: svc.broadcast_send(brand=brand, broadcast_id=made[i].pk))
    assert errors == []
    with brand_scope(brand):
        assert MassQuota.objects.aggregate(m=Max("count"))["m"] == 2
        assert MassQuota.objects.filter(count=2).count() == len(ms)
        per_member = Message.objects.values("conversation_id").annotate(n=Max("id"))
        assert per_member.count() == len(ms)
        for m in ms:
            assert Message.objects.filter(conversation__member=m).count() == 2
        assert Conversation.objects.count() == len(ms)  # created once, whoever came first
        sent = list(Broadcast.objects.values_list("sent", "skipped_cap", "status"))
    assert sum(s for s, _c, _st in sent) == 2 * len(ms)
    assert all(s + c == len(ms) and st == "sent" for s, c, st in sent)


def test_concurrent_notice_tasks_send_once(brand, guide):
    from guides.messaging import outbound
    from retail.notify import ConsoleSender

    member = MemberFactory(brand=brand, guide=guide, marketing_consent=True)
    conv = conversations.conversation_for_member(brand=brand, member=member)
    msg = conversations.message_send(
        brand=brand, conversation=conv, sender="guide", staff=guide, body="x"
    ).message
    ConsoleSender.outbox.clear()
    results, errors = race(
        6, lambda i: outbound.notice_send(brand=brand, conversation_id=conv.pk, message_id=msg.pk)
    )
    assert errors == []
    assert sorted(results) == ["limited"] * 5 + ["sent"]
    assert len(ConsoleSender.outbox) == 1
