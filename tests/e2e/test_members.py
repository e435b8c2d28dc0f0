"""Membership pages in headless Chromium: a shopper joins through a guide's QR link on a phone,
the guide finds the new member and resolves their member code, an admin filters members,
imports a CSV and undoes a merge on a desktop."""

from __future__ import annotations

import pytest
import segno
from playwright.sync_api import expect

from members import codes, services
from members.models import Member, Tag
from retail.events import Actor
from retail.tenancy import brand_scope
from tests.factories import PASSWORD, MemberFactory
from tests.helpers.browser import assert_chinese, login, no_horizontal_overflow, shot
from tests.helpers.otp import last_code

pytestmark = pytest.mark.e2e
SYS = Actor.system()


def join_path(demo, staff) -> str:
    brand = demo["brand"]
    return f"/j/{brand.slug}/{codes.guide_join_token(brand_id=brand.pk, staff_id=staff.pk)}/"


def check(page, name: str):
    assert no_horizontal_overflow(page), f"{name} overflows at {page.size_name}"
    assert_chinese(page)
    shot(page, name)


def test_shopper_joins_and_the_guide_finds_and_scans_them(browse, demo, tmp_path):
    brand, guide = demo["brand"], demo["guide"]

    # The shopper opens the guide's link on their phone.
    shopper = browse.page("phone")
    shopper.goto(join_path(demo, guide))
    assert "王芳" in shopper.inner_text("[data-testid=join-guide]")
    assert "上海南京西路店" in shopper.inner_text("[data-testid=join-guide]")
    assert not shopper.is_checked("input[name=consent]")
    check(shopper, "members-join")

    shopper.fill("input[name=phone]", "139 1234 5678")
    shopper.get_by_test_id("send-code").click()
    shopper.wait_for_function("document.querySelector('#code-status').innerText.includes('验证码已发送')")
    assert "139****5678" in shopper.inner_text("#code-status")
    shopper.get_by_test_id("send-code").click()  # too soon: the error shows in place
    shopper.wait_for_function("document.querySelector('#code-status').innerText.includes('一分钟')")
    shot(shopper, "members-join-code")

    shopper.fill("input[name=code]", last_code())
    shopper.check("input[name=consent]")
    shopper.get_by_role("button", name="加入会员").click()
    shopper.wait_for_url(f"**/s/{brand.slug}/")
    assert "欢迎！你已成为悦颜美妆会员" in shopper.inner_text(".messages")
    expect(shopper.locator("[data-testid=member-card]")).to_be_visible()
    expect(shopper.locator("#member-code svg.qr")).to_be_visible()
    assert shopper.inner_text("[data-testid=my-guide]") == "王芳"
    box = shopper.locator("#member-code svg").bounding_box()
    assert box["width"] >= 200  # big enough to scan across a counter
    check(shopper, "members-card")

    shopper.get_by_text("我的数据与隐私").click()
    shopper.wait_for_url("**/data/")
    assert "139****5678" in shopper.inner_text("main")
    check(shopper, "members-data")

    member = services.member_find(brand=brand, kind="phone", value="13912345678")
    assert member is not None and member.guide_id == guide.pk

    # The guide sees the new member in 会员 and opens them.
    staff = browse.page("phone")
    login(staff, "yy_guide1", PASSWORD)
    staff.locator("nav.tabbar").get_by_text("会员").click()
    staff.wait_for_url("**/m/members/")
    row = staff.get_by_test_id(f"member-row-{member.pk}")
    assert "139****5678" in row.inner_text()
    check(staff, "members-list")
    row.click()
    staff.wait_for_url(f"**/m/members/{member.pk}/")
    assert staff.inner_text("[data-testid=identity-phone]") == "139****5678"
    check(staff, "members-detail")

    # At the counter: the shopper shows the card, the guide types (a scanner gun types) the code.
    shopper.goto(f"/s/{brand.slug}/")
    code = shopper.get_attribute("#member-code", "data-code")
    staff.goto("/m/members/scan/")
    check(staff, "members-scan")
    staff.fill("input[name=code]", code + "x")  # a damaged code is refused with a clear message
    staff.get_by_role("button", name="查找会员").click()
    assert "不是本品牌的有效会员码" in staff.inner_text("main")
    staff.fill("input[name=code]", code)
    staff.get_by_role("button", name="查找会员").click()
    staff.wait_for_url(f"**/m/members/{member.pk}/")

    # No scanner gun: a photo of the member code is decoded in the browser (vendored jsQR).
    photo = tmp_path / "member-code.png"
    segno.make(codes.member_code_issue(brand_id=brand.pk, member_id=member.pk), error="m").save(
        str(photo), scale=8, border=4
    )
    staff.goto("/m/members/scan/")
    staff.set_input_files("#scan-file", str(photo))
    staff.wait_for_url(f"**/m/members/{member.pk}/")

    # The guide's own join QR, linked from the home page.
    staff.goto("/m/")
    staff.get_by_test_id("join-qr-link").click()
    staff.wait_for_url("**/m/qr/")
    assert staff.input_value("[data-testid=join-link]").endswith(join_path(demo, guide))
    expect(staff.locator("[data-testid=join-qr] svg")).to_be_visible()
    check(staff, "members-join-qr")


def test_admin_filters_imports_and_undoes_a_merge(browse, demo, tmp_path):
    brand, admin = demo["brand"], demo["admin"]
    vip = services.tag_create(brand=brand, manager=admin, actor=SYS, name="高价值", group=Tag.Group.VALUE)
    services.tier_save(
        brand=brand, manager=admin, actor=SYS, data={"code": "SILVER", "name": "银卡", "min_spend_fen": 0}
    )
    rich = MemberFactory(brand=brand, name="钱多多", phone="13733334444")
    MemberFactory(brand=brand, name="普通会员", phone="13744445555")
    services.member_tags_change(brand=brand, staff=admin, actor=SYS, member=rich, add=[vip.pk])
    services.member_guide_set(brand=brand, staff=admin, actor=SYS, member=rich, guide=demo["guide"])
    services.points_earn(brand=brand, member=rich, points=880, source="order:e2e", spend_fen=88000)
    twin = MemberFactory(brand=brand, name="钱多多小号", phone="13755556666")
    services.points_earn(brand=brand, member=twin, points=120, source="order:twin")
    record = services.members_merge(
        brand=brand,
        survivor=rich,
        absorbed=twin,
        actor=Actor(user=admin.user),
        reason="同一人",
        evidence=("phone", "13755556666"),
    )

    page = browse.page("desktop")
    login(page, "yy_admin", PASSWORD)
    page.locator(".d-nav").get_by_text("会员", exact=True).click()
    page.wait_for_url("**/dashboard/members/")
    assert "共 2 位会员" in page.inner_text("[data-testid=member-count]")
    assert "13733334444" in page.inner_text("main")  # admins see full numbers

    page.get_by_test_id("tag-filter").locator("summary").click()
    page.get_by_label("高价值").check()
    page.wait_for_function(
        "document.querySelector('[data-testid=member-count]').innerText.includes('共 1 位会员')"
    )
    assert "钱多多" in page.inner_text("#member-results") and "普通会员" not in page.inner_text(
        "#member-results"
    )
    assert "tags=" in page.url  # the filter is in the address, so a reload keeps it
    page.get_by_test_id("tag-filter").locator("summary").click()
    check(page, "members-dashboard")

    page.goto(f"/dashboard/members/{rich.pk}/")
    assert page.inner_text("[data-testid=points]") == "1000"
    check(page, "members-dashboard-detail")

    # Import a small CSV: one good row, one already a member, one bad phone.
    csv_file = tmp_path / "members.csv"
    csv_file.write_text(
        "phone,name,tags,consent,joined_at\n13700000001,新会员,高价值,yes,2024-05-01\n"
        "13744445555,普通会员,,no,\n12345,坏号码,,yes,\n",
        encoding="utf-8",
    )
    page.goto("/dashboard/members/import/")
    check(page, "members-import")
    page.set_input_files("input[name=file]", str(csv_file))
    page.get_by_role("button", name="上传并导入").click()
    page.wait_for_url("**/dashboard/members/jobs/*/")
    page.wait_for_selector("[data-testid=job-progress][data-status=done]")
    bar = page.locator("[role=progressbar]")
    assert bar.get_attribute("aria-valuenow") == "100"
    assert page.inner_text("[data-testid=created-count]") == "1"
    assert page.inner_text("[data-testid=error-count]") == "1"
    with page.expect_download() as download:
        page.get_by_test_id("job-file").click()
    report = download.value.path().read_text(encoding="utf-8-sig")
    assert "12345" in report and "line,error" in report
    check(page, "members-import-job")

    # Undo the merge.
    page.goto("/dashboard/members/merges/")
    row = page.get_by_test_id(f"merge-{record.pk}")
    assert "137****6666" in row.inner_text() and "13755556666" not in row.inner_text()
    check(page, "members-merges")
    page.once("dialog", lambda d: d.accept())
    row.get_by_role("button", name="撤销合并").click()
    page.wait_for_function(f"document.querySelector('#merge-{record.pk}').innerText.includes('已撤销')")
    with brand_scope(brand):
        assert Member.objects.get(pk=twin.pk).status == Member.Status.ACTIVE
        assert Member.objects.get(pk=rich.pk).points_balance == 880
    shot(page, "members-merges-undone")


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_screenshots_of_the_member_pages(browse, demo, size):
    """Every member page at this size: nothing overflows sideways, no English leaks."""
    brand, admin, guide = demo["brand"], demo["admin"], demo["guide"]
    services.tier_save(
        brand=brand, manager=admin, actor=SYS, data={"code": "GOLD", "name": "金卡", "min_spend_fen": 0}
    )
    tag = services.tag_create(
        brand=brand, manager=admin, actor=SYS, name="护肤达人", group=Tag.Group.PREFERENCE
    )
    services.tag_rule_save(
        brand=brand, manager=admin, actor=SYS, tag=tag, field="points_balance", op="gte", value=100
    )
    member = services.member_join(brand=brand, phone="13912340000", guide=guide, consent=True).member
    services.points_earn(
        brand=brand, member=member, points=260, source="order:shot", note="门店消费", spend_fen=26000
    )
    with brand_scope(brand):
        Member.objects.filter(pk=member.pk).update(name="赵敏")

    page = browse.page(size)

    def visit(path, name, status=200):
        response = page.goto(path)
        assert response.status == status, path
        check(page, name)

    visit(f"/s/{brand.slug}/login/", "members-shopper-login")
    session = page.context
    # Log the shopper in through the login page (code from the outbox).
    page.fill("input[name=phone]", "13912340000")
    page.get_by_test_id("send-code").click()
    page.wait_for_function("document.querySelector('#code-status').innerText.includes('验证码已发送')")
    page.fill("input[name=code]", last_code())
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"**/s/{brand.slug}/")
    check(page, "members-shopper-card")
    visit(f"/s/{brand.slug}/data/", "members-shopper-data")
    visit(f"/s/{brand.slug}/data/erase/", "members-shopper-erase")
    session.clear_cookies()

    login(page, "yy_guide1", PASSWORD)
    visit("/m/members/", "members-guide-list")
    visit(f"/m/members/{member.pk}/", "members-guide-detail")
    visit("/m/qr/", "members-guide-qr")
    session.clear_cookies()

    login(page, "yy_admin", PASSWORD)
    visit("/dashboard/members/", "members-admin-list")
    visit(f"/dashboard/members/{member.pk}/", "members-admin-detail")
    visit("/dashboard/members/import/", "members-admin-import")
    visit("/dashboard/members/merges/", "members-admin-merges")
    visit("/dashboard/members/handover/", "members-admin-handover")
    page.select_option("[data-testid=from-guide]", str(guide.pk))
    page.wait_for_selector("[data-testid=handover-members]")
    check(page, "members-admin-handover-picked")
    visit("/dashboard/membership/", "members-admin-settings")
    visit("/dashboard/membership/tiers/new/", "members-admin-tier")
    visit("/dashboard/membership/tags/new/", "members-admin-tag")


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_member_pages_in_english(browse, demo, size):
    """A shopper and an admin who switched to English get the member pages in English."""
    brand, guide = demo["brand"], demo["guide"]
    member = services.member_join(brand=brand, phone="13912340001", guide=guide, consent=False).member
    page = browse.page(size)
    page.goto(join_path(demo, guide))
    page.get_by_test_id("lang-en").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    body = page.inner_text("body")
    assert page.get_by_test_id("send-code").inner_text().strip() == "Get code"
    assert "手机号" not in body
    assert no_horizontal_overflow(page)
    shot(page, "members-join-en")

    login(page, "yy_admin", PASSWORD)
    page.goto(f"/dashboard/members/{member.pk}/")
    body = page.inner_text("body")
    assert "Points" in body and "积分" not in body
    assert no_horizontal_overflow(page)
    shot(page, "members-admin-detail-en")
