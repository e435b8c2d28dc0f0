"""Mass messages (群发) in headless Chromium: the guide composes one on her phone (390×844), sees how
many of her members it reaches, sends it and reads its delivery statistics; the brand admin counts a
segment in the console (1280×800), schedules a message to it and cancels it."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from guides.messaging import conversations
from guides.messaging.broadcast_selectors import quota_month
from guides.messaging.models import Broadcast, MassQuota, MessagingSettings
from members.models import Tier
from retail.tenancy import brand_scope
from tests.factories import PASSWORD, MemberFactory
from tests.helpers.browser import assert_chinese, login, no_horizontal_overflow, shot

pytestmark = pytest.mark.e2e


def check(page, name: str):
    assert no_horizontal_overflow(page), f"{name} overflows at {page.size_name}"
    assert_chinese(page)
    shot(page, name)


@pytest.fixture
def members(demo):
    brand, guide, guide2 = demo["brand"], demo["guide"], demo["guide2"]
    with brand_scope(brand):
        gold = Tier.objects.create(brand=brand, code="gold", name="金卡", min_spend_fen=100000)
    s = conversations.settings_get(brand=brand)
    with brand_scope(brand):
        MessagingSettings.objects.filter(pk=s.pk).update(mass_cap=4)
    mine = [
        MemberFactory(brand=brand, guide=guide, name=n, marketing_consent=True, tier=gold if i < 2 else None)
        for i, n in enumerate(["张晓雨", "刘思琪", "陈佳怡", "杨柳", "黄蕾"])
    ]
    MemberFactory(brand=brand, guide=guide, name="吴静", marketing_consent=False)
    with brand_scope(brand):  # 黄蕾 already got this month's four
        MassQuota.objects.create(brand=brand, member=mine[-1], month=quota_month(), count=4)
    MemberFactory(brand=brand, guide=guide2, name="周婷", marketing_consent=True, tier=gold)
    return {"gold": gold, "mine": mine}


def test_the_guide_sends_a_mass_message_from_her_phone(demo, members, browse):
    page = browse.page("phone")
    login(page, "yy_guide1", PASSWORD)
    page.goto("/m/messages/")
    page.click("[data-testid=broadcasts-link]")  # 群发 from the 消息 tab
    page.wait_for_selector("[data-testid=broadcast-empty]")
    check(page, "broadcasts-guide-empty")
    page.click("[data-testid=broadcast-new]")
    assert page.inner_text("[data-testid=preview-count]") == "4"  # 6 of hers, 1 muted, 1 at the cap
    page.fill("textarea[name=body]", "周末会员日：全场护肤品满 500 减 80，欢迎到店试用新品。")
    check(page, "broadcasts-guide-compose")
    page.click("[data-testid=broadcast-send]")
    page.wait_for_selector("[data-testid=broadcast-stats]")
    page.reload()
    assert page.inner_text("[data-testid=stat-sent]") == "4"
    assert page.inner_text("[data-testid=stat-muted]") == "1"
    assert page.inner_text("[data-testid=stat-capped]") == "1"
    check(page, "broadcasts-guide-detail")
    page.goto("/m/messages/broadcasts/")
    check(page, "broadcasts-guide-list")


def test_the_brand_counts_a_segment_schedules_and_cancels(demo, members, browse):
    page = browse.page("desktop")
    page.set_viewport_size({"width": 1280, "height": 800})
    login(page, "yy_admin", PASSWORD)
    page.goto("/dashboard/messaging/broadcasts/new/")
    assert page.inner_text("[data-testid=preview-count]") == "5"  # 7 members, 1 muted, 1 at the cap
    page.select_option("select[name=tier]", str(members["gold"].pk))
    page.click("[data-testid=broadcast-count]")
    page.wait_for_load_state()
    assert page.inner_text("[data-testid=preview-count]") == "3"
    page.fill("textarea[name=body]", "金卡会员专享：本周五晚 7 点新品品鉴会，回复“报名”预留席位。")
    friday = timezone.localtime() + datetime.timedelta(days=3)
    page.fill("input[name=send_at]", friday.strftime("%Y-%m-%dT19:00"))
    check(page, "broadcasts-console-new")
    page.click("[data-testid=broadcast-send]")
    page.wait_for_selector("[data-testid=broadcast-cancel]")
    check(page, "broadcasts-console-detail")
    page.click("[data-testid=broadcast-cancel]")
    page.wait_for_load_state()
    with brand_scope(demo["brand"]):
        assert Broadcast.objects.get().status == "cancelled"
    page.goto("/dashboard/messaging/broadcasts/")
    check(page, "broadcasts-console-list")
