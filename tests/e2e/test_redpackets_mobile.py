"""Red packets and the wallet in headless Chromium, at phone size: a guide opens a lucky packet (the
closed envelope, then the reveal with everyone's share), binds a payout account, withdraws with the
confirmation screen and reads the records; a store manager sends a lucky packet to the store from
the phone and follows its status. One desktop-size look at the wallet.

Hooks are data-testid attributes and form names, not wording: these pages' Chinese translations
come separately."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from redpackets.models import PacketShare, RedPacket, Settings, Withdrawal
from redpackets.services import limits
from retail.models import Staff
from retail.tenancy import brand_scope
from tests.factories import PASSWORD, StaffFactory, UserFactory
from tests.helpers.browser import login, no_horizontal_overflow, shot, wait_for_animations
from tests.helpers.packets import claim, new_account_no, send, top_up

pytestmark = pytest.mark.e2e


@pytest.fixture
def team(demo):
    """The demo brand with ¥10,000 in the pool and three more guides at 上海南京西路店."""
    brand, store = demo["brand"], demo["stores"][0]
    top_up(brand, demo["admin"], 1_000_000)
    more = [
        StaffFactory(
            brand=brand,
            user=UserFactory(phone=f"1360000000{i}", display_name=name),
            name=name,
            role=Staff.Role.GUIDE,
            stores=[store],
        )
        for i, name in enumerate(("张伟", "刘洋", "陈静"))
    ]
    return {**demo, "more": more}


def check(page, name: str):
    assert no_horizontal_overflow(page), f"{name} overflows at {page.size_name}"
    shot(page, name)


def test_guide_opens_a_packet_binds_withdraws_and_reads_records(browse, team):
    brand, admin, guide = team["brand"], team["admin"], team["guide"]
    others = team["more"][:2]
    packet = send(
        brand, admin, [guide, *others], kind="lucky", total_fen=8_888, greeting="本月业绩第一，辛苦了！"
    )
    for person in others:
        claim(brand, person, packet)
    waiting = send(brand, admin, [guide], amount_each_fen=666, greeting="周末加班补贴")
    # A lucky share can be as little as 1 fen (about 1 run in 50 gives the guide less than the
    # default smallest withdrawal of ¥1.00): she withdraws whatever her share is.
    rules = limits.settings_get(brand=brand)
    with brand_scope(brand):
        Settings.objects.for_brand(brand).filter(pk=rules.pk).update(withdraw_min_fen=1)

    page = browse.page("phone")
    login(page, "yy_guide1", PASSWORD)
    assert page.get_by_test_id("wallet-to-open").inner_text() == "2"
    page.get_by_test_id("wallet-link").click()
    page.wait_for_url("**/m/wallet/")
    expect(page.get_by_test_id(f"to-open-{packet.pk}")).to_be_visible()
    check(page, "rp-wallet-to-open")

    # The closed envelope, then the reveal.
    page.get_by_test_id(f"to-open-{packet.pk}").click()
    page.wait_for_url(f"**/m/wallet/packets/{packet.pk}/")
    assert page.get_by_test_id("greeting").inner_text() == "本月业绩第一，辛苦了！"
    expect(page.get_by_test_id("open-button")).to_be_visible()
    check(page, "rp-packet-closed")
    page.get_by_test_id("open-button").click()
    page.wait_for_url(re.compile(rf"/m/wallet/packets/{packet.pk}/\?opened=1$"))
    with brand_scope(brand):
        mine = PacketShare.objects.get(packet=packet, staff=guide)
    amount = f"{mine.amount_fen // 100:,}.{mine.amount_fen % 100:02d}"
    # The flap opens, the amount counts up to the share, the list rises: wait until all has played.
    expect(page.get_by_test_id("claimed-amount")).to_contain_text(amount)
    wait_for_animations(page)
    claims = page.get_by_test_id("claims")
    assert claims.locator("li").count() == 3
    assert page.get_by_test_id("best-luck").count() == 1  # a finished lucky packet has one best share
    check(page, "rp-packet-opened")

    # Opening again (back, reload) shows the result, and no money moves twice.
    page.goto(f"/m/wallet/packets/{packet.pk}/")
    assert page.get_by_test_id("packet-stage").get_attribute("data-state") == "claimed"

    # Bind a payout account (the real name is filled in from the staff record).
    page.goto("/m/wallet/")
    page.get_by_test_id("withdraw-link").click()
    page.wait_for_url(re.compile(r"/m/wallet/account/\?next="))
    assert page.input_value("input[name=real_name]") == "王芳"
    account_no = new_account_no()
    page.fill("input[name=account_no]", account_no)
    page.get_by_test_id("bind-submit").click()
    page.wait_for_url("**/m/wallet/withdraw/")

    # Withdraw everything, confirmed by hand on the second screen.
    page.get_by_test_id("withdraw-all").click()
    expect(page.get_by_test_id("withdraw-confirm")).to_be_visible()
    masked = f"{account_no[:3]}****{account_no[-4:]}"
    assert masked in page.get_by_test_id("withdraw-confirm").inner_text()
    check(page, "rp-withdraw-confirm")
    page.get_by_test_id("withdraw-confirm-button").click()
    page.wait_for_url("**/m/wallet/withdrawals/*/")
    status = page.get_by_test_id("withdrawal-status")
    status.and_(page.locator("[data-status=succeeded]")).wait_for()
    with brand_scope(brand):
        w = Withdrawal.objects.get(staff=guide)
    assert (w.amount_fen, w.status) == (mine.amount_fen, "succeeded")
    check(page, "rp-withdrawal-status")

    # The records: the packet in, the withdrawal out.
    page.goto("/m/wallet/records/")
    rows = page.get_by_test_id("records").locator(".wl-record")
    assert rows.count() == 2  # the packet in, the withdrawal out
    check(page, "rp-records")

    # The account page shows the masked account.
    page.goto("/m/wallet/account/")
    assert page.get_by_test_id("bound-account-no").inner_text() == masked
    check(page, "rp-account")

    # The other packet still waits on the wallet; a desktop look at the wallet.
    desk = browse.page("desktop")
    login(desk, "yy_guide1", PASSWORD)
    desk.goto("/m/wallet/")
    expect(desk.get_by_test_id(f"to-open-{waiting.pk}")).to_be_visible()
    check(desk, "rp-wallet")


def test_store_manager_sends_a_lucky_packet_to_the_store(browse, team):
    brand, manager, store = team["brand"], team["manager"], team["stores"][0]
    page = browse.page("phone")
    login(page, "yy_manager", PASSWORD)
    page.get_by_test_id("rp-send-link").click()
    page.wait_for_url("**/m/redpackets/")
    page.get_by_test_id("send-link").click()
    page.wait_for_url("**/m/redpackets/send/")
    form = page.get_by_test_id("send-form")
    form.locator("input[name=kind][value=lucky]").check(force=True)
    form.locator("input[name=audience][value=store]").check(force=True)
    assert form.locator("select[name=store]").input_value() == str(store.pk)
    page.fill("input[name=total]", "66.66")
    page.fill("input[name=greeting]", "周末辛苦了，大家分一分")
    check(page, "rp-send-form")
    page.get_by_test_id("send-submit").click()
    page.wait_for_url("**/m/redpackets/*/")
    with brand_scope(brand):
        packet = RedPacket.objects.get(sender=manager)
    assert (packet.kind, packet.audience, packet.total_fen, packet.shares) == ("lucky", "store", 6_666, 4)
    assert page.get_by_test_id("claimed-count").inner_text().startswith("0/4")

    # Two people open it; the status page shows them.
    claim(brand, team["guide"], packet)
    claim(brand, team["more"][0], packet)
    page.reload()
    assert page.get_by_test_id("claimed-count").inner_text().startswith("2/4")
    assert page.get_by_test_id("claims").locator("li").count() == 2
    check(page, "rp-manager-packet")

    page.goto("/m/redpackets/")
    expect(page.get_by_test_id(f"sent-{packet.pk}")).to_be_visible()
    check(page, "rp-manager-sent")
