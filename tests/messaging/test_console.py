"""The brand's messaging console: settings (audited), conversations (each read audited), reports."""

import pytest

from guides.messaging import conversations as svc
from guides.messaging import safety, sending
from guides.messaging.models import MessagingSettings, ShopperReport
from retail.events import Actor
from retail.models import AuditLog, Staff
from retail.tenancy import brand_scope
from tests.factories import MemberFactory, StaffFactory, StoreFactory
from tests.helpers.auth import login_as
from tests.helpers.tenancy import refresh

pytestmark = pytest.mark.django_db

VALID = {
    "welcome_template": "您好，我是{guide}",
    "auto_reply_text": "稍后回复",
    "mass_cap": "3",
    "banned_words": "微信\n  \n转账",
    "shopper_per_minute": "10",
    "outbound_channel": "wechat",
    "notice_every_minutes": "60",
}


def audit(brand, action):
    with brand_scope(brand):
        return list(AuditLog.unscoped.filter(brand=brand, action=action).order_by("id"))


def test_settings_saved_by_admins_and_audited_with_before_and_after(client, brand, brand_admin):
    login_as(client, brand_admin)
    assert client.get("/dashboard/messaging/").status_code == 200
    r = client.post("/dashboard/messaging/", VALID)
    assert r.status_code == 302
    with brand_scope(brand):
        row = MessagingSettings.objects.for_brand(brand).get()
    assert (row.mass_cap, row.banned_words, row.outbound_channel) == (3, "微信\n转账", "wechat")
    [entry] = audit(brand, "messaging.settings_updated")
    assert entry.data["before"]["mass_cap"] == 4 and entry.data["after"]["mass_cap"] == 3
    # The same values again: nothing changes, nothing recorded.
    client.post("/dashboard/messaging/", VALID)
    assert len(audit(brand, "messaging.settings_updated")) == 1


@pytest.mark.parametrize(
    "field,value",
    [
        ("mass_cap", "99"),
        ("shopper_per_minute", "0"),
        ("notice_every_minutes", "abc"),
        ("outbound_channel", "fax"),
        ("welcome_template", "x" * 301),
        ("banned_words", "\n".join(f"w{i}" for i in range(501))),
        ("banned_words", "x" * 51),
        ("mass_cap", ""),
    ],
)
def test_bad_settings_are_refused(client, brand, brand_admin, field, value):
    login_as(client, brand_admin)
    r = client.post("/dashboard/messaging/", {**VALID, field: value})
    assert r.status_code == 400
    assert not audit(brand, "messaging.settings_updated")


def test_nul_characters_never_reach_the_settings(client, brand, brand_admin):
    login_as(client, brand_admin)
    r = client.post("/dashboard/messaging/", {**VALID, "banned_words": "a\x00b"})
    assert r.status_code in (302, 400)
    assert "\x00" not in svc.settings_get(brand=brand).banned_words


def test_console_is_for_brand_admins(client, brand, guide, store_manager):
    for who in (guide, store_manager):
        login_as(client, who)
        for url in (
            "/dashboard/messaging/",
            "/dashboard/messaging/conversations/",
            "/dashboard/messaging/reports/",
        ):
            assert client.get(url).status_code == 403


@pytest.fixture
def setup(brand, store, guide):
    other_store = StoreFactory(brand=brand, code="SH002", name="徐家汇店")
    guide2 = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[other_store], name="李娜")
    m1 = MemberFactory(brand=brand, guide=guide, name="张三")
    m2 = MemberFactory(brand=brand, guide=guide2, name="李四")
    sending.send_as_member(brand=brand, member=m1, body="第一位的消息")
    sending.send_as_member(brand=brand, member=m2, body="第二位的消息")
    c1 = svc.conversation_for_member(brand=brand, member=m1)
    c2 = svc.conversation_for_member(brand=brand, member=m2)
    return {"c1": c1, "c2": c2, "guide2": guide2, "store2": other_store}


def test_conversation_list_filters(client, brand, brand_admin, guide, store, setup):
    login_as(client, brand_admin)
    c1, c2 = setup["c1"], setup["c2"]
    body = client.get("/dashboard/messaging/conversations/").content.decode()
    assert f'conv-{c1.pk}"' in body and f'conv-{c2.pk}"' in body
    body = client.get(f"/dashboard/messaging/conversations/?guide={guide.pk}").content.decode()
    assert f'conv-{c1.pk}"' in body and f'conv-{c2.pk}"' not in body
    body = client.get(f"/dashboard/messaging/conversations/?store={setup['store2'].pk}").content.decode()
    assert f'conv-{c1.pk}"' not in body and f'conv-{c2.pk}"' in body
    safety.report_shopper(
        brand=brand, staff=setup["guide2"], actor=Actor.system(), conversation_id=c2.pk, reason="广告"
    )
    body = client.get("/dashboard/messaging/conversations/?reported=1").content.decode()
    assert f'conv-{c1.pk}"' not in body and f'conv-{c2.pk}"' in body
    for bad in ("guide=abc", "store=-1", "page=0", "guide=99999999999999"):
        assert client.get(f"/dashboard/messaging/conversations/?{bad}").status_code == 400


def test_reading_a_conversation_is_audited_each_time(client, brand, brand_admin, setup, other_brand):
    login_as(client, brand_admin)
    c1 = setup["c1"]
    for _ in range(2):
        r = client.get(f"/dashboard/messaging/conversations/{c1.pk}/")
        assert r.status_code == 200 and "第一位的消息" in r.content.decode()
    entries = audit(brand, "messaging.conversation_read")
    assert (
        len(entries) == 2
        and entries[0].target_id == str(c1.pk)
        and entries[0].actor_id == brand_admin.user_id
    )
    # Read only: nothing marked read, nothing sent.
    assert refresh(c1).guide_unread == 1
    foreign = svc.conversation_for_member(brand=other_brand, member=MemberFactory(brand=other_brand))
    assert client.get(f"/dashboard/messaging/conversations/{foreign.pk}/").status_code == 404
    assert len(audit(brand, "messaging.conversation_read")) == 2


def test_reports_list_and_resolve(client, brand, brand_admin, setup, other_brand):
    c2 = setup["c2"]
    report = safety.report_shopper(
        brand=brand, staff=setup["guide2"], actor=Actor.system(), conversation_id=c2.pk, reason="发广告链接"
    )
    login_as(client, brand_admin)
    assert "发广告链接" in client.get("/dashboard/messaging/reports/").content.decode()
    assert client.get("/dashboard/messaging/reports/?show=bogus").status_code == 400
    assert client.get(f"/dashboard/messaging/reports/{report.pk}/resolve/").status_code == 405
    assert client.post(f"/dashboard/messaging/reports/{report.pk}/resolve/").status_code == 302
    assert refresh(report).resolved_at is not None
    assert "发广告链接" not in client.get("/dashboard/messaging/reports/").content.decode()
    assert "发广告链接" in client.get("/dashboard/messaging/reports/?show=resolved").content.decode()
    assert len(audit(brand, "messaging.report_resolved")) == 1
    assert client.post("/dashboard/messaging/reports/987654/resolve/").status_code == 404
    with brand_scope(brand):
        assert ShopperReport.objects.for_brand(brand).count() == 1


def test_menu_entry_for_admins(client, brand, brand_admin):
    login_as(client, brand_admin)
    body = client.get("/dashboard/messaging/conversations/").content.decode()
    assert 'data-testid="nav-messaging"' in body
