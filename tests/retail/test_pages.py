"""Server-rendered pages: who may open what, forms with bad input, htmx partials, language."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from retail.models import AuditLog, Staff, Store
from retail.tenancy import brand_scope
from tests.factories import PASSWORD, StaffFactory, StoreFactory, UserFactory
from tests.helpers.auth import login_as
from tests.helpers.pages import text
from tests.helpers.tenancy import refresh

pytestmark = pytest.mark.django_db

STAFF_PAGES = ["home", "members-tab", "messages-tab", "me-tab", "password-change"]
MANAGER_PAGES = ["team", "dashboard", "dash-stores", "dash-staff", "dash-staff-new"]
ADMIN_PAGES = ["dash-store-new", "dash-audit"]
HX = {"HX-Request": "true"}


def status_of(staff: Staff) -> str:
    with brand_scope(staff.brand):
        return Staff.objects.get(pk=staff.pk).status


def store_count(brand) -> int:
    with brand_scope(brand):
        return Store.objects.for_brand(brand).count()


def staff_count(brand) -> int:
    with brand_scope(brand):
        return Staff.objects.for_brand(brand).count()


# --- logged out -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", STAFF_PAGES + MANAGER_PAGES + ADMIN_PAGES)
def test_pages_redirect_to_login_when_logged_out(client, name):
    url = reverse(name)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={url}"


def test_root_and_brand_picker_send_anonymous_users_to_login(client):
    assert client.get("/")["Location"] == reverse("login")
    assert client.get(reverse("brand-picker"))["Location"] == reverse("login")


def test_login_page_is_chinese_by_default_and_self_contained(client):
    response = client.get(reverse("login"))
    body = text(response)
    assert response.status_code == 200
    assert '<html lang="zh-hans">' in body
    assert "手机号或用户名" in body and "登录" in body
    assert 'name="viewport"' in body
    assert 'hx-headers=\'{"X-CSRFToken": "' in body
    assert "/static/vendor/htmx.min.js" in body
    assert "/static/css/app.css" in body
    # No CDN: the machine that runs this has no internet.
    assert not re.search(r"""(src|href)=["']https?://""", body)


# --- login ------------------------------------------------------------------------------------


def test_guide_logs_in_by_phone_and_lands_on_the_staff_home(client, guide):
    response = client.post(reverse("login"), {"username": guide.user.phone, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    home = client.get(reverse("home"))
    assert home.status_code == 200
    assert f"你好，{guide.name}" in text(home)


def test_admin_logs_in_by_username_and_lands_on_the_dashboard(client, brand_admin):
    response = client.post(reverse("login"), {"username": brand_admin.user.username, "password": PASSWORD})
    assert response["Location"] == reverse("dashboard")


def test_wrong_password_rerenders_the_form_with_an_error(client, guide):
    response = client.post(reverse("login"), {"username": guide.user.phone, "password": "nope-nope"})
    assert response.status_code == 400
    assert "手机号/用户名或密码错误。" in text(response)
    assert "_auth_user_id" not in client.session


def test_empty_login_form_shows_field_errors(client):
    response = client.post(reverse("login"), {"username": "", "password": ""})
    assert response.status_code == 400
    assert text(response).count("此项为必填项。") == 2


def test_person_of_a_suspended_brand_cannot_log_in(client, guide):
    guide.brand.status = "suspended"
    guide.brand.save()
    response = client.post(reverse("login"), {"username": guide.user.phone, "password": PASSWORD})
    assert response.status_code == 400
    assert "你所在品牌的账号已停用" in text(response)


def test_logout_is_a_post(client, guide):
    login_as(client, guide)
    assert client.get(reverse("logout")).status_code == 405
    assert client.post(reverse("logout"))["Location"] == reverse("login")
    assert client.get(reverse("home")).status_code == 302


# --- staff mobile UI --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "tab", "expected"),
    [
        ("home", "home", "我的门店"),
        ("members-tab", "members", "顾客通过你加入品牌后"),
        ("messages-tab", "messages", "你们之间的会话会显示在这里"),
        ("me-tab", "me", "修改密码"),
        ("password-change", "me", "旧密码"),
    ],
)
def test_guide_pages_render_with_the_right_tab(client, guide, name, tab, expected):
    login_as(client, guide)
    response = client.get(reverse(name))
    body = text(response)
    assert response.status_code == 200
    assert expected in body
    assert re.search(rf'class="active" aria-current="page" data-tab="{tab}"', body)
    assert body.count('aria-current="page"') == 1
    for label in ("首页", "会员", "消息", "我的"):
        assert f"<span>{label}</span>" in body


def test_staff_home_lists_the_guides_own_store_only(client, guide, store, brand):
    StoreFactory(brand=brand, code="BJ009", name="北京国贸店")
    login_as(client, guide)
    body = text(client.get(reverse("home")))
    assert store.name in body
    assert "北京国贸店" not in body
    assert "导购 · 悦颜美妆" in body


def test_members_and_messages_tabs_do_not_show_made_up_data(client, guide):
    login_as(client, guide)
    assert "还没有会员" in text(client.get(reverse("members-tab")))
    assert "还没有会话" in text(client.get(reverse("messages-tab")))


def test_me_page_shows_profile_and_masks_the_phone(client, guide):
    login_as(client, guide)
    body = text(client.get(reverse("me-tab")))
    phone = guide.user.phone
    assert guide.name in body
    assert f"{phone[:3]}****{phone[-4:]}" in body
    assert phone not in body
    assert "退出登录" in body
    assert "管理后台" not in body  # a guide has no console


def test_guide_cannot_open_manager_pages(client, guide):
    login_as(client, guide)
    for name in MANAGER_PAGES + ADMIN_PAGES:
        response = client.get(reverse(name))
        assert response.status_code == 403, name
        assert "无权访问" in text(response)


def test_store_manager_sees_the_team_of_their_store(client, store_manager, guide, brand):
    elsewhere = StaffFactory(brand=brand, stores=[StoreFactory(brand=brand)], name="外店导购")
    login_as(client, store_manager)
    response = client.get(reverse("team"))
    body = text(response)
    assert response.status_code == 200
    assert guide.name in body and store_manager.name in body
    assert elsewhere.name not in body


def test_password_change_wrong_old_password_changes_nothing(client, guide):
    login_as(client, guide)
    response = client.post(
        reverse("password-change"),
        {"old_password": "wrong", "new_password1": "Fresh-Pass-2026", "new_password2": "Fresh-Pass-2026"},
    )
    assert response.status_code == 400
    assert "has-error" in text(response)
    guide.user.refresh_from_db()
    assert guide.user.check_password(PASSWORD)


def test_password_change_works(client, guide):
    login_as(client, guide)
    response = client.post(
        reverse("password-change"),
        {"old_password": PASSWORD, "new_password1": "Fresh-Pass-2026", "new_password2": "Fresh-Pass-2026"},
    )
    assert response["Location"] == reverse("me-tab")
    guide.user.refresh_from_db()
    assert guide.user.check_password("Fresh-Pass-2026")
    assert "密码已修改。" in text(client.get(reverse("me-tab")))


# --- brand picker -------------------------------------------------------------------------------


@pytest.fixture
def promoter(brand, other_brand, store, other_store):
    user = UserFactory(display_name="周敏")
    StaffFactory(brand=brand, user=user, stores=[store], name="周敏")
    StaffFactory(brand=other_brand, user=user, stores=[other_store], name="周敏")
    return user


def test_person_with_two_brands_picks_one_after_login(client, promoter, brand, other_brand):
    response = client.post(reverse("login"), {"username": promoter.phone, "password": PASSWORD})
    assert response["Location"] == reverse("brand-picker")
    picker = client.get(reverse("brand-picker"))
    body = text(picker)
    assert picker.status_code == 200
    assert brand.name in body and other_brand.name in body
    response = client.post(reverse("brand-picker"), {"brand_id": other_brand.pk})
    assert response["Location"] == reverse("home")
    assert f"<title>首页 · {other_brand.name}" in text(client.get(reverse("home")))


def test_brand_picker_refuses_a_brand_the_user_does_not_work_for(client, promoter, brand):
    client.post(reverse("login"), {"username": promoter.phone, "password": PASSWORD})
    stranger = StaffFactory(name="陌生品牌管理员").brand
    response = client.post(reverse("brand-picker"), {"brand_id": stranger.pk}, follow=True)
    assert "你无法以此品牌身份操作。" in text(response)
    assert client.get(reverse("home"))["Location"] == reverse("brand-picker")


def test_me_page_offers_to_switch_to_the_other_brand(client, promoter, brand, other_brand):
    client.post(reverse("login"), {"username": promoter.phone, "password": PASSWORD})
    client.post(reverse("brand-picker"), {"brand_id": brand.pk})
    body = text(client.get(reverse("me-tab")))
    assert f'name="brand_id" value="{other_brand.pk}"' in body
    assert f'name="brand_id" value="{brand.pk}"' not in body  # the current one is not a button


def test_invited_brand_is_shown_but_cannot_be_picked(client, promoter, brand, other_brand):
    with brand_scope(other_brand):
        Staff.objects.filter(user=promoter).update(status=Staff.Status.INVITED)
    client.force_login(promoter, backend="retail.auth_backends.PhoneOrUsernameBackend")
    body = text(client.get(reverse("brand-picker")))
    assert "尚未接受邀请" in body
    assert re.search(rf'value="{other_brand.pk}"[^>]*disabled', body)


# --- dashboard: overview, stores ------------------------------------------------------------


def test_dashboard_overview_for_brand_admin(client, brand_admin, guide, store):
    login_as(client, brand_admin)
    response = client.get(reverse("dashboard"))
    body = text(response)
    assert response.status_code == 200
    assert "概览" in body and "最近动态" in body and "团队角色分布" in body
    assert 'data-testid="kpi-stores">1<' in body
    assert 'href="/dashboard/audit/"' in body  # admins see the audit log in the nav


def test_dashboard_for_store_manager_hides_the_audit_log(client, store_manager):
    login_as(client, store_manager)
    body = text(client.get(reverse("dashboard")))
    assert 'href="/dashboard/audit/"' not in body
    assert "最近动态" not in body
    assert 'href="/dashboard/stores/new/"' not in body


@pytest.mark.parametrize("name", ["dash-store-new", "dash-audit"])
def test_store_manager_cannot_open_admin_pages(client, store_manager, name):
    login_as(client, store_manager)
    assert client.get(reverse(name)).status_code == 403


def test_store_manager_cannot_edit_their_store(client, store_manager, store):
    login_as(client, store_manager)
    assert client.get(reverse("dash-store-edit", args=[store.pk])).status_code == 403
    response = client.post(reverse("dash-store-edit", args=[store.pk]), {"name": "改名"})
    assert response.status_code == 403
    refresh(store)
    assert store.name == "南京西路店"


def test_store_list_and_live_search(client, brand_admin, store, brand):
    StoreFactory(brand=brand, code="BJ001", name="北京三里屯店", address="北京市朝阳区")
    login_as(client, brand_admin)
    page = client.get(reverse("dash-stores"))
    assert page.status_code == 200
    assert "<html" in text(page) and "北京三里屯店" in text(page) and store.name in text(page)
    assert 'hx-get="/dashboard/stores/"' in text(page)

    partial = client.get(reverse("dash-stores"), {"q": "朝阳"}, headers=HX)
    body = text(partial)
    assert partial.status_code == 200
    assert "<html" not in body and "<table" in body
    assert "北京三里屯店" in body and store.name not in body

    nothing = client.get(reverse("dash-stores"), {"q": "不存在"}, headers=HX)
    assert "没有匹配的门店" in text(nothing)


def test_store_list_of_a_store_manager_is_their_stores(client, store_manager, store, brand):
    StoreFactory(brand=brand, code="BJ001", name="北京三里屯店")
    login_as(client, store_manager)
    body = text(client.get(reverse("dash-stores")))
    assert store.name in body and "北京三里屯店" not in body


def test_admin_creates_a_store(client, brand_admin, brand):
    login_as(client, brand_admin)
    assert client.get(reverse("dash-store-new")).status_code == 200
    response = client.post(
        reverse("dash-store-new"),
        {
            "code": "GZ001",
            "name": "广州天河店",
            "address": "广州市天河路208号",
            "latitude": "23.132",
            "longitude": "113.327",
            "geofence_radius_m": "300",
            "timezone": "Asia/Shanghai",
            "opens_at": "10:00",
            "closes_at": "22:00",
            "status": "open",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("dash-stores")
    with brand_scope(brand):
        created = Store.objects.get(code="GZ001")
    assert created.name == "广州天河店" and created.geofence_radius_m == 300
    listing = text(client.get(reverse("dash-stores")))
    assert "门店已保存。" in listing and "广州天河店" in listing
    assert "新建门店" in text(client.get(reverse("dash-audit")))


def test_store_form_with_bad_input_rerenders_and_creates_nothing(client, brand_admin, brand):
    login_as(client, brand_admin)
    response = client.post(
        reverse("dash-store-new"),
        {
            "code": "bad code!",
            "name": "",
            "latitude": "123",
            "geofence_radius_m": "1",
            "timezone": "Mars/Base",
            "opens_at": "10:00",
            "closes_at": "22:00",
            "status": "open",
        },
    )
    body = text(response)
    assert response.status_code == 400
    assert "请修正下面标出的错误。" in body
    assert "只能包含字母、数字、_ 和 -。" in body
    assert "此项为必填项。" in body
    assert "未知时区：Mars/Base" in body
    assert 'value="bad code!"' in body  # what was typed stays in the form
    assert store_count(brand) == 0


def test_duplicate_store_code_is_refused(client, brand_admin, store, brand):
    login_as(client, brand_admin)
    response = client.post(
        reverse("dash-store-new"),
        {
            "code": store.code,
            "name": "重复店",
            "geofence_radius_m": "200",
            "timezone": "Asia/Shanghai",
            "opens_at": "10:00",
            "closes_at": "22:00",
            "status": "open",
        },
    )
    assert response.status_code == 400
    assert "已有其他门店使用此编码。" in text(response)
    assert store_count(brand) == 1


def test_admin_edits_a_store(client, brand_admin, store):
    login_as(client, brand_admin)
    page = text(client.get(reverse("dash-store-edit", args=[store.pk])))
    assert f'value="{store.code}"' in page and 'value="10:00"' in page
    data = {
        "code": store.code,
        "name": "南京西路旗舰店",
        "address": store.address,
        "latitude": "31.2292",
        "longitude": "121.4488",
        "geofence_radius_m": "200",
        "timezone": "Asia/Shanghai",
        "opens_at": "09:30",
        "closes_at": "22:00",
        "status": "open",
    }
    assert client.post(reverse("dash-store-edit", args=[store.pk]), data).status_code == 302
    refresh(store)
    assert store.name == "南京西路旗舰店"


def test_another_brands_store_is_not_found(client, brand_admin, other_store):
    login_as(client, brand_admin)
    response = client.get(reverse("dash-store-edit", args=[other_store.pk]))
    assert response.status_code == 404
    assert "页面不存在" in text(response)
    response = client.post(reverse("dash-store-edit", args=[other_store.pk]), {"name": "x"})
    assert response.status_code == 404
    refresh(other_store)
    assert other_store.name == "西湖店"


# --- dashboard: staff -------------------------------------------------------------------------


def test_staff_list_with_filters_and_htmx_rows(client, brand_admin, guide, store_manager):
    login_as(client, brand_admin)
    page = client.get(reverse("dash-staff"))
    body = text(page)
    assert page.status_code == 200
    assert guide.name in body and store_manager.name in body
    assert "导购" in body and "店长" in body and "品牌管理员" in body

    partial = client.get(reverse("dash-staff"), {"role": "guide"}, headers=HX)
    rows = text(partial)
    assert "<html" not in rows
    assert f'id="staff-{guide.pk}"' in rows
    assert f'id="staff-{store_manager.pk}"' not in rows

    by_phone = text(client.get(reverse("dash-staff"), {"q": guide.user.phone[-6:]}, headers=HX))
    assert f'id="staff-{guide.pk}"' in by_phone and f'id="staff-{store_manager.pk}"' not in by_phone

    empty = text(client.get(reverse("dash-staff"), {"q": "没有这个人"}, headers=HX))
    assert "没有符合条件的员工" in empty


def test_staff_rows_have_htmx_deactivate_buttons_but_not_for_yourself(client, brand_admin, guide):
    login_as(client, brand_admin)
    body = text(client.get(reverse("dash-staff")))
    assert f'hx-post="/dashboard/staff/{guide.pk}/deactivate/"' in body
    assert 'hx-target="closest tr"' in body and "hx-confirm=" in body
    assert f'action="/dashboard/staff/{guide.pk}/deactivate/"' in body  # works without JS too
    assert f"/dashboard/staff/{brand_admin.pk}/deactivate/" not in body


def test_store_manager_cannot_deactivate_a_brand_admin_or_see_other_stores(
    client, store_manager, brand_admin, guide, brand
):
    other = StaffFactory(brand=brand, stores=[StoreFactory(brand=brand)], name="别店导购")
    login_as(client, store_manager)
    body = text(client.get(reverse("dash-staff")))
    assert guide.name in body and other.name not in body
    assert brand_admin.name not in body
    assert client.post(reverse("dash-staff-deactivate", args=[other.pk])).status_code == 404
    assert status_of(other) == Staff.Status.ACTIVE


def test_deactivate_and_reactivate_with_htmx_swap_the_row(client, brand_admin, guide):
    login_as(client, brand_admin)
    response = client.post(reverse("dash-staff-deactivate", args=[guide.pk]), headers=HX)
    row = text(response)
    assert response.status_code == 200
    assert row.strip().startswith(f'<tr id="staff-{guide.pk}"')
    assert "<html" not in row
    assert "已离职" in row and "恢复在职" in row
    assert status_of(guide) == Staff.Status.LEFT

    response = client.post(reverse("dash-staff-reactivate", args=[guide.pk]), headers=HX)
    assert "办理离职" in text(response) and "已离职" not in text(response)
    assert status_of(guide) == Staff.Status.ACTIVE


def test_deactivate_without_js_redirects_with_a_message(client, brand_admin, guide):
    login_as(client, brand_admin)
    response = client.post(reverse("dash-staff-deactivate", args=[guide.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("dash-staff")
    assert f"已将{guide.name}标记为离职。" in text(response)
    assert status_of(guide) == Staff.Status.LEFT


def test_deactivate_needs_post(client, brand_admin, guide):
    login_as(client, brand_admin)
    assert client.get(reverse("dash-staff-deactivate", args=[guide.pk])).status_code == 405
    assert status_of(guide) == Staff.Status.ACTIVE


def test_another_brands_staff_is_not_found(client, brand_admin, other_admin):
    login_as(client, brand_admin)
    for name in ("dash-staff-edit", "dash-staff-deactivate", "dash-staff-reactivate", "dash-staff-reinvite"):
        method = client.get if name == "dash-staff-edit" else client.post
        response = method(reverse(name, args=[other_admin.pk]))
        assert response.status_code == 404, name
    assert status_of(other_admin) == Staff.Status.ACTIVE


def test_invite_form_defaults_to_guide_and_lists_the_brands_stores(client, brand_admin, store, other_store):
    login_as(client, brand_admin)
    body = text(client.get(reverse("dash-staff-new")))
    assert '<option value="guide" selected>' in body
    assert store.name in body and other_store.name not in body


def test_invite_staff_gives_a_one_time_link(client, brand_admin, store, brand):
    login_as(client, brand_admin)
    response = client.post(
        reverse("dash-staff-new"),
        {
            "name": "刘洋",
            "phone": "138 0013 8000",
            "role": "guide",
            "stores": [store.pk],
            "employee_no": "E100",
        },
    )
    with brand_scope(brand):
        invited = Staff.objects.get(user__phone="13800138000")
    # Post/redirect/get: the link is not in the URL, and refreshing does not post again.
    assert response.status_code == 302
    assert response["Location"] == reverse("dash-staff-invited", args=[invited.pk])
    page = client.get(response["Location"])
    body = text(page)
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    assert "已邀请刘洋" in body
    link = re.search(r'id="invite-link" type="text" value="([^"]+)"', body).group(1)
    assert link.startswith("http://testserver/invite/yueyan/")
    assert "/invite/" not in response["Location"]
    assert invited.status == Staff.Status.INVITED and invited.name == "刘洋"
    assert "已邀请" in text(client.get(reverse("dash-staff")))
    # Shown once: a reload of the page offers a new link instead of repeating the old one.
    again = text(client.get(response["Location"]))
    assert "/invite/yueyan/" not in again and 'data-testid="new-invite-link"' in again
    assert staff_count(brand) == 2


def test_invited_page_of_another_brand_is_not_found(client, brand_admin, other_admin):
    login_as(client, brand_admin)
    assert client.get(reverse("dash-staff-invited", args=[other_admin.pk])).status_code == 404
    assert client.post(reverse("dash-staff-invited", args=[brand_admin.pk])).status_code == 405


def test_invite_with_bad_input_changes_nothing(client, brand_admin, brand):
    login_as(client, brand_admin)
    before = staff_count(brand)
    response = client.post(reverse("dash-staff-new"), {"name": "", "phone": "12345", "role": "guide"})
    body = text(response)
    assert response.status_code == 400
    assert "请输入有效的中国大陆手机号。" in body and "此项为必填项。" in body
    assert staff_count(brand) == before


def test_invite_without_a_store_is_refused_for_a_guide(client, brand_admin, store, brand):
    login_as(client, brand_admin)
    response = client.post(
        reverse("dash-staff-new"), {"name": "刘洋", "phone": "13800138000", "role": "guide"}
    )
    assert response.status_code == 400
    assert "请至少选择一家门店。" in text(response)
    with brand_scope(brand):
        assert not Staff.objects.for_brand(brand).filter(name="刘洋").exists()


def test_store_manager_may_only_give_guide_and_staff_roles(client, store_manager, store):
    login_as(client, store_manager)
    body = text(client.get(reverse("dash-staff-new")))
    assert 'value="guide"' in body and 'value="staff"' in body
    assert 'value="brand_admin"' not in body and 'value="store_manager"' not in body
    response = client.post(
        reverse("dash-staff-new"),
        {"name": "刘洋", "phone": "13800138000", "role": "brand_admin", "stores": [store.pk]},
    )
    assert response.status_code == 400


def test_edit_staff_with_bad_input_changes_nothing(client, brand_admin, guide, store):
    login_as(client, brand_admin)
    page = text(client.get(reverse("dash-staff-edit", args=[guide.pk])))
    assert f'value="{guide.name}"' in page
    response = client.post(
        reverse("dash-staff-edit", args=[guide.pk]), {"name": "", "role": "guide", "stores": [store.pk]}
    )
    assert response.status_code == 400
    refresh(guide)
    assert guide.name == "王芳"


def test_edit_staff_keeps_the_hire_date_in_the_date_input(client, brand_admin, guide):
    guide.hired_on = "2025-03-01"
    with brand_scope(guide.brand):
        guide.save()
    login_as(client, brand_admin)
    body = text(client.get(reverse("dash-staff-edit", args=[guide.pk])))
    assert re.search(r'<input type="date" name="hired_on" value="2025-03-01"', body)


def test_edit_staff(client, brand_admin, guide, store):
    login_as(client, brand_admin)
    response = client.post(
        reverse("dash-staff-edit", args=[guide.pk]),
        {"name": "王芳芳", "role": "store_manager", "stores": [store.pk], "employee_no": "E7"},
    )
    assert response["Location"] == reverse("dash-staff")
    refresh(guide)
    assert (guide.name, guide.role, guide.employee_no) == ("王芳芳", "store_manager", "E7")


def test_own_record_is_read_only(client, brand_admin):
    login_as(client, brand_admin)
    page = client.get(reverse("dash-staff-edit", args=[brand_admin.pk]))
    assert "这是你本人" in text(page)
    assert "disabled" in text(page)
    assert client.post(reverse("dash-staff-edit", args=[brand_admin.pk]), {"name": "x"}).status_code == 403


def test_reinvite_gives_a_new_link(client, brand_admin, store, brand):
    invited = StaffFactory(brand=brand, stores=[store], status=Staff.Status.INVITED, name="待加入")
    login_as(client, brand_admin)
    response = client.post(reverse("dash-staff-reinvite", args=[invited.pk]), follow=True)
    assert response.redirect_chain == [(reverse("dash-staff-invited", args=[invited.pk]), 302)]
    assert "/invite/yueyan/" in text(response)


# --- invitations --------------------------------------------------------------------------------


def invite(client, admin, store, phone="13800138000", name="刘洋") -> str:
    login_as(client, admin)
    response = client.post(
        reverse("dash-staff-new"),
        {"name": name, "phone": phone, "role": "guide", "stores": [store.pk]},
        follow=True,
    )
    link = re.search(r'id="invite-link" type="text" value="([^"]+)"', text(response)).group(1)
    client.post(reverse("logout"))
    return link.replace("http://testserver", "")


def test_invitation_accept_sets_a_password_and_logs_in(client, brand_admin, store, brand):
    path = invite(client, brand_admin, store)
    page = client.get(path)
    assert page.status_code == 200
    assert "加入悦颜美妆" in text(page) and "刘洋" in text(page) and "138****8000" in text(page)

    bad = client.post(path, {"password1": "Fresh-Pass-2026", "password2": "Other-Pass-2026"})
    assert bad.status_code == 400
    assert "两次输入的密码不一致。" in text(bad)
    with brand_scope(brand):
        assert Staff.objects.get(name="刘洋").status == Staff.Status.INVITED

    weak = client.post(path, {"password1": "12345678", "password2": "12345678"})
    assert weak.status_code == 400

    ok = client.post(path, {"password1": "Fresh-Pass-2026", "password2": "Fresh-Pass-2026"}, follow=True)
    assert ok.redirect_chain[-1][0] == reverse("home")
    assert "欢迎加入悦颜美妆！" in text(ok)
    with brand_scope(brand):
        assert Staff.objects.get(name="刘洋").status == Staff.Status.ACTIVE

    client.post(reverse("logout"))
    used = client.get(path)
    assert used.status_code == 404
    assert "此邀请链接已无法使用" in text(used)


def test_unknown_invitation_token_is_not_found(client, brand):
    response = client.get(reverse("invitation-accept", args=[brand.slug, "not-a-token"]))
    assert response.status_code == 404
    assert "此邀请链接已无法使用" in text(response)


def test_invitation_link_of_one_brand_does_not_work_under_another(client, brand_admin, store, other_brand):
    path = invite(client, brand_admin, store)
    token = path.rstrip("/").split("/")[-1]
    response = client.get(reverse("invitation-accept", args=[other_brand.slug, token]))
    assert response.status_code == 404


# --- audit log -------------------------------------------------------------------------------------


def test_audit_log_lists_the_brands_own_entries_in_chinese(
    client, brand_admin, guide, other_admin, other_brand
):
    login_as(client, brand_admin)
    client.post(reverse("dash-staff-deactivate", args=[guide.pk]))
    with brand_scope(other_brand):
        AuditLog.unscoped.create(brand=other_brand, action="store.created", target_repr="别家门店")
    response = client.get(reverse("dash-audit"))
    body = text(response)
    assert response.status_code == 200
    assert "办理离职" in body and guide.name in body
    assert "别家门店" not in body
    filtered = text(client.get(reverse("dash-audit"), {"action": "store."}))
    assert "暂无记录" in filtered


# --- errors and language -------------------------------------------------------------------------


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "页面不存在" in text(response)


def test_role_and_status_labels_are_chinese_by_default(
    client, brand_admin, guide, store_manager, brand, store
):
    StaffFactory(brand=brand, role=Staff.Role.STAFF, stores=[store], status=Staff.Status.INVITED)
    StaffFactory(
        brand=brand, role=Staff.Role.GUIDE, stores=[store], status=Staff.Status.LEFT, left_on="2026-01-01"
    )
    login_as(client, brand_admin)
    body = text(client.get(reverse("dash-staff")))
    for label in ("品牌管理员", "店长", "导购", "店员", "已邀请", "已离职", "正常"):
        assert label in body, label
    for english in (">Brand admin<", ">Store manager<", ">Guide<", ">Invited<", ">Left<"):
        assert english not in body


def test_switching_to_english_and_back(client, guide):
    login_as(client, guide)
    assert "<span>会员</span>" in text(client.get(reverse("home")))

    response = client.post(reverse("set_language"), {"language": "en", "next": reverse("home")})
    assert response["Location"] == reverse("home")
    body = text(client.get(reverse("home")))
    assert '<html lang="en">' in body
    assert "<span>Members</span>" in body and f"Hello, {guide.name}" in body and "Guide ·" in body
    assert "会员" not in body

    client.post(reverse("set_language"), {"language": "zh-hans", "next": reverse("home")})
    assert "<span>会员</span>" in text(client.get(reverse("home")))


def test_language_switch_form_posts_to_django_set_language(client):
    body = text(client.get(reverse("login")))
    assert 'action="/i18n/setlang/"' in body
    assert 'name="language" value="en"' in body


def test_chinese_catalog_is_complete_and_compiled():
    po = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
    content = po.read_text(encoding="utf-8")
    assert "#, fuzzy" not in content
    entries = content.split("\n\n")[1:]
    untranslated = [
        e
        for e in entries
        if re.search(r'^msgstr(\[0\])? ""\n?$', e, re.M) and '\n"' not in e.split("msgstr")[-1]
    ]
    assert untranslated == []
    assert po.with_suffix(".mo").exists()


def test_too_many_failed_logins_lock_the_account(client, guide):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": guide.user.phone, "password": "wrong-one"})
    response = client.post(reverse("login"), {"username": guide.user.phone, "password": PASSWORD})
    assert response.status_code == 429
    assert "尝试次数过多，请 15 分钟后再试。" in text(response)
    assert "_auth_user_id" not in client.session


def test_server_error_page(rf):
    from django.contrib.auth.models import AnonymousUser

    from retail.views import server_error

    request = rf.get("/dashboard/")
    request.user = AnonymousUser()
    response = server_error(request)
    assert response.status_code == 500
    assert "出错了" in text(response)


def test_expired_form_gets_a_friendly_csrf_page(guide):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("login"), {"username": guide.user.phone, "password": PASSWORD})
    assert response.status_code == 403
    assert "页面已过期" in text(response)


def test_person_who_already_has_a_login_joins_a_second_brand_with_their_password(
    client, brand_admin, store, other_admin
):
    existing = StaffFactory(brand=other_admin.brand, name="周敏")
    path = invite(client, brand_admin, store, phone=existing.user.phone, name="周敏")
    page = text(client.get(path))
    assert "该手机号已有账号" in page
    assert 'name="current_password"' in page and 'name="password1"' not in page
    wrong = client.post(path, {"current_password": "not-it"})
    assert wrong.status_code == 400
    assert "密码错误。" in text(wrong)
    ok = client.post(path, {"current_password": PASSWORD})
    assert ok["Location"] == reverse("home")


def test_store_list_pages_keep_the_search(client, brand_admin, brand):
    for n in range(55):
        StoreFactory(brand=brand, code=f"T{n:03d}", name=f"测试店{n}")
    login_as(client, brand_admin)
    body = text(client.get(reverse("dash-stores"), {"q": "测试"}))
    assert "共 55 条" in body and "第 1 / 2 页" in body
    assert 'href="?q=%E6%B5%8B%E8%AF%95&amp;page=2"' in body
    second = text(client.get(reverse("dash-stores"), {"q": "测试", "page": 2}))
    assert "测试店54" in second and "测试店10<" not in second and "上一页" in second
