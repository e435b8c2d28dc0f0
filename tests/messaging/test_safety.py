"""Safety: blocked shoppers, the shopper's rate limit, banned words, report and block by the guide."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from guides.messaging import conversations as svc
from guides.messaging import safety, sending
from guides.messaging.models import BODY_MAX, Message, ShopperReport
from retail.events import Actor
from retail.models import AuditLog, Staff
from retail.tenancy import brand_scope
from tests.factories import MemberFactory, StaffFactory
from tests.helpers.auth import login_as
from tests.helpers.tenancy import refresh

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(brand, guide):
    return MemberFactory(brand=brand, guide=guide)


@pytest.fixture
def conv(brand, member):
    return svc.conversation_for_member(brand=brand, member=member)


def set_settings(brand, **values):
    row = svc.settings_get(brand=brand)
    for k, v in values.items():
        setattr(row, k, v)
    with brand_scope(brand):
        row.save()


def member_messages(brand):
    with brand_scope(brand):
        return Message.objects.for_brand(brand).filter(sender="member").count()


def test_banned_words_refuse_both_sides_with_a_clear_message(brand, member, guide, conv):
    set_settings(brand, banned_words="微信号\n\n  加我 QQ \n")
    with pytest.raises(ValidationError) as exc:
        sending.send_as_member(brand=brand, member=member, body="你的微信号是多少")
    assert exc.value.code == "banned_word" and "微信号" in exc.value.messages[0]
    # Spaces and case do not hide a word.
    with pytest.raises(ValidationError):
        sending.send_as_guide(brand=brand, staff=guide, conversation_id=conv.pk, body="加 我 qq 吧")
    assert member_messages(brand) == 0
    sending.send_as_member(brand=brand, member=member, body="这个多少钱")
    assert member_messages(brand) == 1


def test_a_blocked_shopper_is_refused_until_unblocked(brand, member, guide, conv):
    actor = Actor.system()
    assert safety.block_shopper(brand=brand, staff=guide, actor=actor, conversation_id=conv.pk) is True
    assert safety.block_shopper(brand=brand, staff=guide, actor=actor, conversation_id=conv.pk) is False
    with pytest.raises(ValidationError) as exc:
        sending.send_as_member(brand=brand, member=member, body="hi")
    assert exc.value.code == "blocked"
    assert refresh(conv).blocked_by_id == guide.pk
    assert safety.unblock_shopper(brand=brand, staff=guide, actor=actor, conversation_id=conv.pk) is True
    sending.send_as_member(brand=brand, member=member, body="hi")
    with brand_scope(brand):
        actions = list(AuditLog.unscoped.filter(brand=brand).values_list("action", flat=True))
    assert actions.count("messaging.blocked") == 1 and actions.count("messaging.unblocked") == 1


def test_rate_limit_per_shopper_per_minute(brand, member, conv, guide):
    set_settings(brand, shopper_per_minute=3)
    for i in range(3):
        sending.send_as_member(brand=brand, member=member, body=f"m{i}")
    with pytest.raises(ValidationError) as exc:
        sending.send_as_member(brand=brand, member=member, body="m3")
    assert exc.value.code == "rate_limited"
    # Another shopper is not limited by this one.
    other = MemberFactory(brand=brand, guide=guide)
    sending.send_as_member(brand=brand, member=other, body="hello")
    assert member_messages(brand) == 4


def test_rate_limit_fails_open_without_the_cache(brand, member, conv, settings):
    set_settings(brand, shopper_per_minute=1)
    # Redis unreachable (nothing listens on port 1): shoppers are not limited, nor refused.
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "retail.cache.FailOpenRedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        },
    }
    for i in range(3):
        sending.send_as_member(brand=brand, member=member, body=f"m{i}")
    assert member_messages(brand) == 3


def test_length_is_limited(brand, member, conv):
    with pytest.raises(ValidationError):
        sending.send_as_member(brand=brand, member=member, body="长" * (BODY_MAX + 1))
    assert member_messages(brand) == 0


def test_report_is_stored_audited_and_needs_a_reason(brand, member, guide, conv):
    with pytest.raises(ValidationError):
        safety.report_shopper(
            brand=brand, staff=guide, actor=Actor.system(), conversation_id=conv.pk, reason="  "
        )
    with pytest.raises(ValidationError):
        safety.report_shopper(
            brand=brand, staff=guide, actor=Actor.system(), conversation_id=conv.pk, reason="x" * 301
        )
    report = safety.report_shopper(
        brand=brand, staff=guide, actor=Actor.system(), conversation_id=conv.pk, reason="辱骂\x00导购"
    )
    assert report.reason == "辱骂导购"
    with brand_scope(brand):
        assert AuditLog.unscoped.filter(brand=brand, action="messaging.reported").count() == 1


def test_only_her_own_conversations(brand, store, member, conv):
    other = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store])
    for fn in (safety.block_shopper, safety.unblock_shopper):
        with pytest.raises(PermissionDenied):
            fn(brand=brand, staff=other, actor=Actor.system(), conversation_id=conv.pk)
    with pytest.raises(PermissionDenied):
        safety.report_shopper(
            brand=brand, staff=other, actor=Actor.system(), conversation_id=conv.pk, reason="x"
        )
    assert refresh(conv).blocked_at is None


def test_endpoints(client, brand, store, member, guide, conv, other_brand):
    login_as(client, guide)
    r = client.post(f"/m/messages/{conv.pk}/block/", HTTP_ACCEPT="application/json")
    assert r.status_code == 200 and r.json() == {"ok": True, "blocked": True}
    r = client.post(f"/m/messages/{conv.pk}/unblock/", {"next": f"/m/messages/{conv.pk}/"})
    assert r.status_code == 302 and r["Location"] == f"/m/messages/{conv.pk}/"
    r = client.post(f"/m/messages/{conv.pk}/report/", {"reason": ""}, HTTP_ACCEPT="application/json")
    assert r.status_code == 400 and r.json()["ok"] is False
    r = client.post(f"/m/messages/{conv.pk}/report/", {"reason": "骚扰"}, HTTP_ACCEPT="application/json")
    assert r.status_code == 200
    # Another guide, another brand's conversation id, a GET: refused, nothing written.
    other = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store])
    login_as(client, other)
    assert client.post(f"/m/messages/{conv.pk}/block/", HTTP_ACCEPT="application/json").status_code == 403
    assert client.post(f"/m/messages/{conv.pk}/block/").status_code == 403
    assert client.post(f"/m/messages/{conv.pk}/report/", {"reason": ""}).status_code == 403
    assert client.post(f"/m/messages/{conv.pk}/notes/", {"body": ""}).status_code == 403
    assert client.get(f"/m/messages/{conv.pk}/block/").status_code == 405
    foreign = svc.conversation_for_member(brand=other_brand, member=MemberFactory(brand=other_brand))
    login_as(client, guide)
    assert client.post(f"/m/messages/{foreign.pk}/block/", HTTP_ACCEPT="application/json").status_code == 403
    assert refresh(foreign).blocked_at is None
    with brand_scope(brand):
        assert ShopperReport.objects.for_brand(brand).count() == 1


def test_a_resend_is_answered_with_the_stored_message_and_does_not_count(brand, member, conv):
    """A reconnecting page resends what it had not seen acknowledged: the stored message comes back,
    the shopper's per-minute count is not charged for it, even at the limit."""
    set_settings(brand, shopper_per_minute=3)
    first = sending.send_as_member(brand=brand, member=member, body="a", client_id="c-a")
    sending.send_as_member(brand=brand, member=member, body="b", client_id="c-b")
    for _ in range(2):
        again = sending.send_as_member(brand=brand, member=member, body="a", client_id="c-a")
        assert (again.created, again.message.pk) == (False, first.message.pk)
    third = sending.send_as_member(brand=brand, member=member, body="c", client_id="c-c")
    assert third.created  # the resends took none of the three
    with pytest.raises(ValidationError) as exc:
        sending.send_as_member(brand=brand, member=member, body="d", client_id="c-d")
    assert exc.value.code == "rate_limited"
    # At the limit, a resend is still answered with what was stored; a new message is not.
    again = sending.send_as_member(brand=brand, member=member, body="c", client_id="c-c")
    assert (again.created, again.message.pk) == (False, third.message.pk)
    assert member_messages(brand) == 3
