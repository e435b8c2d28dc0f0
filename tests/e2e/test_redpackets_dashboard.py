"""The red packet pages of the brand dashboard in headless Chromium: a brand admin tops the pool up
through the simulated cashier, sends a lucky packet to a store, follows it, checks the ledger,
downloads the transaction records as CSV and looks at a guide's wallet; then the same pages at
phone size. Screenshots go to artifacts/screenshots/rp-dash-*.png.

Hooks are data-testid attributes and form names, not wording: the Chinese comes separately."""

from __future__ import annotations

import csv
import io

import pytest
from playwright.sync_api import expect

from redpackets.models import RedPacket, TopUp
from redpackets.services import packets
from retail.events import Actor
from retail.tenancy import brand_scope
from tests.factories import PASSWORD
from tests.helpers.browser import login, no_horizontal_overflow, shot
from tests.helpers.packets import top_up

pytestmark = pytest.mark.e2e


def check(page, name: str):
    assert no_horizontal_overflow(page), f"{name} overflows at {page.size_name}"
    # The stylesheet of these pages is loaded and applies (the red hero or red buttons).
    assert page.evaluate(
        "Array.from(document.styleSheets).some(s => (s.href || '').includes('redpackets-dash.css'))"
    )
    page.evaluate("window.scrollTo(0, 0)")  # a full-page shot of a scrolled page misplaces sticky parts
    shot(page, name)


def test_admin_tops_up_sends_a_lucky_packet_and_exports_the_records(browse, demo, tmp_path):
    brand, store = demo["brand"], demo["stores"][0]
    page = browse.page("desktop")
    login(page, "yy_admin", PASSWORD)
    page.get_by_test_id("nav-redpackets").click()
    page.wait_for_url("**/dashboard/redpackets/")
    assert page.inner_text("[data-testid=pool-balance]") == "¥0.00"
    check(page, "rp-dash-pool-empty")

    # Three decimals are refused on the page; nothing is started.
    page.fill("form[data-testid=topup-form] input[name=amount]", "10.005")
    page.get_by_test_id("topup-submit").click()
    expect(page.locator("form[data-testid=topup-form] .field-error")).to_be_visible()
    with brand_scope(brand):
        assert TopUp.objects.count() == 0

    # ¥20,000 through the simulated cashier: Pay, and back on the pool page with the money.
    page.fill("form[data-testid=topup-form] input[name=amount]", "20000")
    page.get_by_test_id("topup-submit").click()
    page.wait_for_url("**/pay/sim/**")
    assert page.inner_text("[data-testid=pay-amount]") == "¥20,000.00"
    page.get_by_test_id("sim-pay").click()
    page.wait_for_url("**/dashboard/redpackets/")
    assert page.inner_text("[data-testid=pool-balance]") == "¥20,000.00"
    with brand_scope(brand):
        assert TopUp.objects.get().status == TopUp.Status.SUCCEEDED

    # A lucky packet of ¥300 to the Nanjing Road store, two shares: first come, first served.
    page.get_by_test_id("nav-redpackets").click()
    page.locator("nav.subnav a[href$='/send/']").click()
    page.wait_for_url("**/dashboard/redpackets/send/")
    page.locator("label:has(input[name=kind][value=lucky])").click()
    page.locator("label:has(input[name=audience][value=store])").click()
    expect(page.locator("input[name=amount_each]")).to_be_hidden()  # only the chosen kind's amount
    expect(page.locator("select[name=person]")).to_be_hidden()
    page.select_option("select[name=store]", str(store.pk))
    page.fill("input[name=total]", "300")
    page.fill("input[name=shares]", "2")
    page.fill("input[name=greeting]", "本周辛苦了")
    check(page, "rp-dash-send")
    page.get_by_test_id("send-submit").click()
    page.wait_for_url("**/dashboard/redpackets/packets/*/")
    with brand_scope(brand):
        packet = RedPacket.objects.get()
    assert (packet.kind, packet.store_id, packet.total_fen, packet.shares) == ("lucky", store.pk, 30000, 2)
    assert page.inner_text("[data-testid=packet-total]") == "¥300.00"
    assert page.inner_text("[data-testid=packet-greeting]") == "本周辛苦了"

    # The guide opens it on her phone (here: the service); the status page shows the claim.
    share = packets.packet_claim(brand=brand, staff=demo["guide"], packet=packet, key="e2e-claim")
    page.reload()
    assert page.inner_text("[data-testid=packet-claimed]") == "1/2"
    assert demo["guide"].name in page.inner_text("[data-testid=claims]")
    check(page, "rp-dash-packet")

    page.locator("nav.subnav a[href$='/packets/']").click()
    page.wait_for_url("**/dashboard/redpackets/packets/")
    expect(page.get_by_test_id(f"packet-{packet.pk}")).to_be_visible()
    check(page, "rp-dash-packets")

    # The ledger check, then the pool's records as CSV.
    page.goto("/dashboard/redpackets/")
    page.get_by_test_id("reconcile-now").click()
    page.wait_for_url("**/dashboard/redpackets/*")
    expect(page.get_by_test_id("reconcile-ok")).to_be_visible()
    assert page.inner_text("[data-testid=pool-balance]") == "¥19,700.00"
    check(page, "rp-dash-pool")
    with page.expect_download() as info:
        page.get_by_test_id("export-csv").click()
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    path = tmp_path / "pool.csv"
    download.save_as(path)
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert len(rows) == 3 and len(rows[0]) == 7
    assert [r[4] for r in rows[1:]] == ["-300.00", "20000.00"]

    # The guide's wallet, as brand finance sees it.
    page.locator("nav.subnav a[href$='/wallets/']").click()
    page.wait_for_url("**/dashboard/redpackets/wallets/")
    row = page.get_by_test_id(f"wallet-{demo['guide'].pk}")
    expect(row).to_be_visible()
    check(page, "rp-dash-wallets")
    row.locator("a").first.click()
    page.wait_for_url(f"**/dashboard/redpackets/wallets/{demo['guide'].pk}/")
    assert (
        page.inner_text("[data-testid=wallet-balance]")
        == f"¥{share.amount_fen // 100:,}.{share.amount_fen % 100:02d}"
    )
    check(page, "rp-dash-wallet")

    page.locator("nav.subnav a[href$='/settings/']").click()
    page.wait_for_url("**/dashboard/redpackets/settings/")
    check(page, "rp-dash-settings")


def test_the_dashboard_pages_work_at_phone_size(browse, demo):
    brand, admin, store, guide = demo["brand"], demo["admin"], demo["stores"][0], demo["guide"]
    top_up(brand, admin, 500_000)
    packet = packets.packet_send(
        brand=brand,
        sender=admin,
        actor=Actor.system(),
        kind="fixed",
        audience="store",
        greeting="新品上市，大家辛苦了",
        key="e2e-phone",
        fingerprint="fp",
        store_id=store.pk,
        amount_each_fen=1888,
    )
    packets.packet_claim(brand=brand, staff=guide, packet=packet, key="e2e-phone-claim")

    page = browse.page("phone")
    login(page, "yy_admin", PASSWORD)
    page.goto("/dashboard/redpackets/")
    assert page.inner_text("[data-testid=pool-balance]") == "¥4,962.24"
    check(page, "rp-dash-pool")
    page.goto("/dashboard/redpackets/send/")
    page.locator("label:has(input[name=audience][value=group])").click()
    page.fill("[data-rp-filter]", guide.name)
    expect(page.locator(f"#rp-people input[value='{guide.pk}']")).to_be_visible()
    expect(page.locator(f"#rp-people input[value='{demo['guide2'].pk}']")).to_be_hidden()
    page.locator(f"#rp-people label:has(input[value='{guide.pk}'])").click()
    # A fixed amount with three decimals: refused with the error on the field, nothing sent.
    page.fill("input[name=amount_each]", "1.005")
    page.get_by_test_id("send-submit").click()
    expect(page.locator(".field-error").first).to_be_visible()
    with brand_scope(brand):
        assert RedPacket.objects.count() == 1
    check(page, "rp-dash-send-error")
    page.goto(f"/dashboard/redpackets/packets/{packet.pk}/")
    assert page.inner_text("[data-testid=packet-claimed]") == "1/2"
    check(page, "rp-dash-packet")
    page.goto("/dashboard/redpackets/packets/")
    check(page, "rp-dash-packets")
    page.goto("/dashboard/redpackets/wallets/")
    check(page, "rp-dash-wallets")
    page.goto(f"/dashboard/redpackets/wallets/{guide.pk}/")
    check(page, "rp-dash-wallet")
    page.goto("/dashboard/redpackets/settings/")
    check(page, "rp-dash-settings")
