"""The messaging console in headless Chromium at 1280x800 (settings, conversations, one
conversation read, reports, canned replies) and the guide's chat settings at phone size (busy,
her auto-reply, her canned replies). Screenshots: artifacts/screenshots/messaging-*.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from guides.messaging import conversations as svc
from guides.messaging import productivity, safety, sending
from guides.messaging.models import CannedReply
from retail.events import Actor
from retail.models import AuditLog
from retail.tenancy import brand_scope
from tests.factories import PASSWORD, MemberFactory
from tests.helpers.browser import assert_chinese, login, no_horizontal_overflow, shot

pytestmark = pytest.mark.e2e


def _seed(demo):
    brand, guide, guide2, admin = demo["brand"], demo["guide"], demo["guide2"], demo["admin"]
    m1 = MemberFactory(brand=brand, guide=guide, name="张小雨")
    m2 = MemberFactory(brand=brand, guide=guide2, name="刘晨")
    sending.send_as_member(brand=brand, member=m1, body="你好，上次买的面霜还有货吗？")
    c1 = svc.conversation_for_member(brand=brand, member=m1)
    sending.send_as_guide(
        brand=brand, staff=guide, conversation_id=c1.pk, body="有的，今天下午到店可以直接取。"
    )
    sending.send_as_member(brand=brand, member=m2, body="加我微 xyz123 有便宜货")
    c2 = svc.conversation_for_member(brand=brand, member=m2)
    safety.report_shopper(
        brand=brand, staff=guide2, actor=Actor.system(), conversation_id=c2.pk, reason="发广告"
    )
    productivity.canned_create(
        brand=brand,
        staff=admin,
        actor=Actor.system(),
        title="营业时间",
        body="门店每天10:00-22:00营业。",
        mine=False,
    )
    return c1, c2


def _check(page, name):
    assert no_horizontal_overflow(page), f"{name} overflows"
    assert_chinese(page)
    page.evaluate("window.scrollTo(0, 0)")
    return shot(page, name)


def test_console_pages_and_guide_settings(browse, demo):
    c1, c2 = _seed(demo)
    brand = demo["brand"]
    page = browse.page("desktop")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.size_name = "1280"
    login(page, demo["admin"].user.username, PASSWORD)

    page.goto("/dashboard/messaging/")
    page.fill("textarea[name=banned_words]", "微信号\n转账")
    page.fill("input[name=shopper_per_minute]", "12")
    page.click("[data-testid=save-messaging-settings]")
    page.wait_for_load_state()
    assert page.input_value("input[name=shopper_per_minute]") == "12"
    _check(page, "messaging-settings")

    page.goto("/dashboard/messaging/conversations/")
    expect(page.locator(f"[data-testid=conv-{c1.pk}]")).to_be_visible()
    page.check("input[name=reported]")
    page.click("[data-testid=filter-apply]")
    page.wait_for_load_state()
    assert page.locator(f"[data-testid=conv-{c1.pk}]").count() == 0
    expect(page.locator(f"[data-testid=conv-{c2.pk}]")).to_be_visible()
    _check(page, "messaging-conversations")

    page.click(f"[data-testid=conv-{c2.pk}] a")
    page.wait_for_load_state()
    assert "加我微" in page.inner_text("[data-testid=conversation-history]")
    _check(page, "messaging-conversation")
    with brand_scope(brand):
        assert AuditLog.unscoped.filter(brand=brand, action="messaging.conversation_read").count() == 1

    page.goto("/dashboard/messaging/reports/")
    _check(page, "messaging-reports")
    page.click("button[data-testid^=resolve-]")
    page.wait_for_load_state()
    assert page.locator("tr[data-testid^=report-]").count() == 0

    page.goto("/dashboard/messaging/canned/")
    page.fill("input[name=title]", "退换货")
    page.fill("textarea[name=body]", "7天内凭小票可以退换。")
    page.click("[data-testid=canned-add]")
    page.wait_for_load_state()
    assert "退换货" in page.inner_text("[data-testid=canned-list]")
    _check(page, "messaging-canned")

    phone = browse.page("phone")
    login(phone, demo["guide"].user.username, PASSWORD)
    phone.goto("/m/messages/settings/")
    phone.click("[data-testid=busy-on]")
    phone.wait_for_load_state()
    expect(phone.locator("[data-testid=busy-off]")).to_be_visible()
    phone.fill("textarea[name=auto_reply_text]", "正在开会，一小时后回复您")
    phone.click("[data-testid=auto-reply-save]")
    phone.wait_for_load_state()
    phone.fill("input[name=title]", "到店提醒")
    phone.fill("textarea[name=body]", "您预约的商品已到店，欢迎来取。")
    phone.click("[data-testid=own-canned-add]")
    phone.wait_for_load_state()
    assert "到店提醒" in phone.inner_text("[data-testid=own-canned]")
    _check(phone, "messaging-guide-settings")
    own = productivity.guide_settings_get(brand=brand, staff=demo["guide"])
    assert own.busy_since is not None and own.auto_reply_text == "正在开会，一小时后回复您"
    with brand_scope(brand):
        assert CannedReply.objects.for_brand(brand).filter(staff=demo["guide"]).count() == 1
