"""The real pages in headless Chromium, at phone (390×844) and desktop (1440×900) sizes."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from retail.models import Staff, Store
from retail.tenancy import brand_scope
from tests.factories import PASSWORD
from tests.helpers.browser import (
    assert_chinese,
    htmx_requests_in_flight,
    login,
    no_horizontal_overflow,
    shot,
)

pytestmark = pytest.mark.e2e


def staff_status(staff) -> str:
    with brand_scope(staff.brand):
        return Staff.objects.get(pk=staff.pk).status


def test_guide_logs_in_by_phone_and_uses_the_tab_bar(browse, demo):
    page = browse.page("phone")
    login(page, "138 0000 0003", PASSWORD)
    assert page.url.endswith("/m/")
    tabbar = page.locator("nav.tabbar")
    expect(tabbar).to_be_visible()
    assert tabbar.locator("a").all_inner_texts() == ["首页", "会员", "消息", "我的"]
    # The bar stays at the bottom of the screen.
    box = tabbar.bounding_box()
    assert box["y"] + box["height"] == pytest.approx(844, abs=1)
    assert page.locator(".hero").inner_text().startswith("王")
    assert "你好，王芳" in page.inner_text(".hero")
    assert "上海南京西路店" in page.inner_text("main")
    assert "上海徐家汇店" not in page.inner_text("main")
    assert page.locator("a.active[data-tab=home]").count() == 1

    tabbar.get_by_text("会员").click()
    page.wait_for_url("**/m/members/")
    assert page.locator("a.active[data-tab=members]").count() == 1
    assert "还没有会员" in page.inner_text("main")

    tabbar.get_by_text("消息").click()
    page.wait_for_url("**/m/messages/")
    assert "还没有会话" in page.inner_text("main")

    tabbar.get_by_text("我的").click()
    page.wait_for_url("**/m/me/")
    assert page.locator("a.active[data-tab=me]").count() == 1
    profile = page.inner_text(".profile")
    assert "王芳" in profile and "导购" in profile and "138****0003" in profile
    assert no_horizontal_overflow(page)
    assert_chinese(page)

    page.get_by_role("button", name="退出登录").click()
    page.wait_for_url("**/login/")


def test_wrong_password_shows_the_error(browse, demo):
    page = browse.page("phone")
    login(page, "13800000003", "not-the-password")
    assert page.url.endswith("/login/")
    error = page.locator(".alert-error")
    expect(error).to_be_visible()
    assert "手机号/用户名或密码错误" in error.inner_text()
    assert page.input_value("input[name=username]") == "13800000003"
    assert page.input_value("input[name=password]") == ""


def test_admin_creates_a_store_and_invites_a_guide_who_joins(browse, demo):
    page = browse.page("desktop")
    login(page, "yy_admin", PASSWORD)
    assert page.url.endswith("/dashboard/")
    assert page.locator(".d-nav a.active").inner_text() == "概览"
    assert page.get_by_test_id("current-user").inner_text() == "林雅"

    # A store: first with mistakes, then right.
    page.locator(".d-nav").get_by_text("门店").click()
    page.wait_for_url("**/dashboard/stores/")
    page.get_by_role("link", name="新建门店").first.click()
    page.wait_for_url("**/dashboard/stores/new/")
    page.fill("input[name=code]", "GZ 001")
    page.fill("input[name=latitude]", "95")
    page.click("form.form button[type=submit]")
    expect(page.locator(".alert-error")).to_be_visible()
    assert page.locator(".field.has-error").count() >= 3  # code, name, latitude
    page.fill("input[name=code]", "GZ001")
    page.fill("input[name=name]", "广州天河店")
    page.fill("input[name=address]", "广州市天河区天河路208号")
    page.fill("input[name=latitude]", "23.132")
    page.fill("input[name=longitude]", "113.327")
    page.fill("input[name=geofence_radius_m]", "300")
    page.click("form.form button[type=submit]")
    page.wait_for_url("**/dashboard/stores/")
    assert "门店已保存。" in page.inner_text(".messages")
    assert page.locator("tr", has_text="广州天河店").count() == 1
    with brand_scope(demo["brand"]):
        assert Store.objects.get(code="GZ001").geofence_radius_m == 300

    # An invitation for a guide in the new store.
    page.locator(".d-nav").get_by_text("员工").click()
    page.get_by_role("link", name="邀请员工").first.click()
    page.wait_for_url("**/dashboard/staff/new/")
    page.fill("input[name=name]", "刘洋")
    page.fill("input[name=phone]", "13812345678")
    page.select_option("select[name=role]", "guide")
    page.get_by_label("广州天河店").check()
    page.click("form.form button[type=submit]")
    assert "已邀请刘洋" in page.inner_text("h1")
    link = page.get_by_test_id("invite-link").input_value()
    assert "/invite/yueyan/" in link

    # The invited person opens the link on their own phone.
    phone = browse.page("phone")
    phone.goto(link)
    assert "加入悦颜美妆" in phone.inner_text("h1")
    shot(phone, "invitation-accept")
    phone.fill("input[name=password1]", "Ganggang-2026")
    phone.fill("input[name=password2]", "Ganggang-2026")
    phone.click("form.form button[type=submit]")
    phone.wait_for_url("**/m/")
    assert "欢迎加入悦颜美妆！" in phone.inner_text(".messages")
    assert "广州天河店" in phone.inner_text("main")
    expect(phone.locator("nav.tabbar")).to_be_visible()

    # The admin sees them as active now, and every step in the audit log.
    page.goto("/dashboard/staff/?q=刘洋")
    assert "正常" in page.inner_text("tr:has-text('刘洋')")
    page.locator(".d-nav").get_by_text("审计日志").click()
    log = page.inner_text("table")
    assert "新建门店" in log and "邀请员工" in log and "接受邀请" in log
    assert_chinese(page)


def test_admin_marks_someone_as_left_with_the_htmx_button(browse, demo):
    page = browse.page("desktop")
    login(page, "yy_admin", PASSWORD)
    page.goto("/dashboard/staff/")
    page.evaluate("window.__noReload = true")

    # Live search narrows the list without reloading the page.
    page.fill("input[name=q]", "李娜")
    page.wait_for_function("document.querySelectorAll('#staff-results tbody tr').length === 1")
    assert "李娜" in page.inner_text("#staff-results")

    guide2 = demo["guide2"]
    row = page.locator(f"#staff-{guide2.pk}")
    dialogs = []
    page.once("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    row.get_by_role("button", name="办理离职").click()
    page.wait_for_function(f"document.querySelector('#staff-{guide2.pk}').innerText.includes('已离职')")
    assert "李娜" in dialogs[0]
    assert page.evaluate("window.__noReload") is True  # swapped in place by htmx
    expect(page.locator(f"#staff-{guide2.pk}").get_by_role("button", name="恢复在职")).to_be_visible()
    assert staff_status(guide2) == Staff.Status.LEFT

    # Dismissing the confirmation changes nothing: htmx sends no request at all.
    page.once("dialog", lambda d: d.dismiss())
    with page.expect_event("dialog"):
        page.locator(f"#staff-{guide2.pk}").get_by_role("button", name="恢复在职").click()
    assert htmx_requests_in_flight(page) == 0
    assert "已离职" in page.inner_text(f"#staff-{guide2.pk}")
    assert staff_status(guide2) == Staff.Status.LEFT

    page.once("dialog", lambda d: d.accept())
    page.locator(f"#staff-{guide2.pk}").get_by_role("button", name="恢复在职").click()
    page.wait_for_function(f"document.querySelector('#staff-{guide2.pk}').innerText.includes('办理离职')")
    assert staff_status(guide2) == Staff.Status.ACTIVE


def test_promoter_picks_and_switches_brands(browse, demo):
    page = browse.page("phone")
    login(page, "promoter", PASSWORD)
    assert page.url.endswith("/brands/")
    options = page.locator(".brand-option")
    assert options.count() == 2
    page.get_by_test_id("brand-senhuo").click()
    page.wait_for_url("**/m/")
    assert page.inner_text(".m-top").strip() == "森活超市"
    assert "杭州西湖店" in page.inner_text("main")

    page.goto("/m/me/")
    page.get_by_role("button", name=re.compile("悦颜美妆")).click()
    page.wait_for_url("**/m/")
    assert page.inner_text(".m-top").strip() == "悦颜美妆"
    assert "上海徐家汇店" in page.inner_text("main")


def test_language_switch_to_english_and_back(browse, demo):
    page = browse.page("phone")
    page.goto("/login/")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    page.get_by_test_id("lang-en").click()
    page.wait_for_url("**/login/")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.inner_text("h1") == "Log in"
    login(page, "13800000003", PASSWORD)
    assert page.locator("nav.tabbar a").all_inner_texts() == ["Home", "Members", "Messages", "Me"]
    assert "Hello, 王芳" in page.inner_text(".hero")
    page.goto("/m/me/")
    assert "Guide" in page.inner_text(".profile")
    page.get_by_test_id("lang-zh-hans").click()
    page.wait_for_url("**/m/me/")
    assert page.locator("nav.tabbar a").all_inner_texts() == ["首页", "会员", "消息", "我的"]
    assert "导购" in page.inner_text(".profile")


def test_guide_cannot_open_the_dashboard(browse, demo):
    page = browse.page("phone")
    login(page, "yy_guide1", PASSWORD)
    response = page.goto("/dashboard/staff/")
    assert response.status == 403
    assert "无权访问" in page.inner_text("h1")


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_screenshots_of_every_page(browse, demo, size):
    """Keep a screenshot of each page at this size; check nothing overflows sideways or leaks English."""
    page = browse.page(size)

    def visit(path, name, status=200):
        response = page.goto(path)
        assert response.status == status, path
        assert no_horizontal_overflow(page), f"{name} overflows at {size}"
        assert_chinese(page)
        shot(page, name)

    visit("/login/", "login")
    login(page, "13800000003", "wrong-password")
    shot(page, "login-error")

    login(page, "yy_guide1", PASSWORD)
    visit("/m/", "staff-home")
    visit("/m/members/", "members")
    visit("/m/messages/", "messages")
    visit("/m/me/", "me")
    visit("/m/me/password/", "password-change")
    page.context.clear_cookies()

    login(page, "promoter", PASSWORD)
    visit("/brands/", "brand-picker")
    page.context.clear_cookies()

    login(page, "yy_manager", PASSWORD)
    visit("/m/team/", "team")
    page.context.clear_cookies()

    login(page, "yy_admin", PASSWORD)
    visit("/dashboard/staff/new/", "staff-invite")
    page.fill("input[name=name]", "新同事" if size == "phone" else "新同事二")
    page.fill("input[name=phone]", "13811112222" if size == "phone" else "13811113333")
    page.get_by_label("上海南京西路店").check()
    page.click("form.form button[type=submit]")
    expect(page.get_by_test_id("invite-link")).to_be_visible()
    assert no_horizontal_overflow(page)
    assert_chinese(page)
    shot(page, "invite-link")
    if size == "phone":  # someone left, so the lists show every status
        page.goto("/dashboard/staff/")
        page.once("dialog", lambda d: d.accept())
        page.locator(f"#staff-{demo['clerk'].pk}").get_by_role("button", name="办理离职").click()
        page.wait_for_function(
            f"document.querySelector('#staff-{demo['clerk'].pk}').innerText.includes('已离职')"
        )
    visit("/dashboard/", "dashboard")
    visit("/dashboard/stores/", "stores")
    visit("/dashboard/stores/new/", "store-form")
    page.fill("input[name=code]", "上海 1 号")
    page.fill("input[name=latitude]", "120")
    page.click("form.form button[type=submit]")
    assert page.locator(".field.has-error").count() >= 2
    assert no_horizontal_overflow(page)
    assert_chinese(page)
    shot(page, "store-form-errors")
    visit("/dashboard/staff/", "staff")
    visit(f"/dashboard/staff/{demo['guide'].pk}/", "staff-edit")
    visit("/dashboard/audit/", "audit")
    visit(f"/dashboard/staff/{demo['other_admin'].pk}/", "not-found", status=404)
