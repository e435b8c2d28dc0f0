"""Login by phone or username, lockout, suspended brands, brand picker, invitations."""

import pytest
from django.urls import reverse

from retail import services
from retail.events import Actor
from retail.middleware import SESSION_BRAND_KEY
from retail.models import AuditLog, Brand, Staff
from retail.notify import ConsoleSender
from retail.tenancy import brand_scope
from tests.factories import PASSWORD, StaffFactory
from tests.helpers.auth import login_as

pytestmark = pytest.mark.django_db


def _login(client, username, password=PASSWORD):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_login_by_phone_with_prefix_and_spaces(client, guide):
    phone = guide.user.phone
    resp = _login(client, f"+86 {phone[:3]} {phone[3:7]} {phone[7:]}")
    assert resp.status_code == 302 and resp["Location"] == reverse("home")
    assert client.session[SESSION_BRAND_KEY] == guide.brand_id


def test_login_by_username_case_insensitive(client, brand_admin):
    resp = _login(client, brand_admin.user.username.upper())
    assert resp.status_code == 302 and resp["Location"] == reverse("dashboard")


def test_wrong_password_is_refused_without_session(client, guide):
    resp = _login(client, guide.user.username, "nope")
    assert resp.status_code == 400
    assert "_auth_user_id" not in client.session


def test_lockout_after_repeated_failures_even_with_right_password(client, guide):
    for _ in range(5):
        _login(client, guide.user.username, "wrong-password")
    resp = _login(client, guide.user.phone)  # same account, typed as phone, right password
    assert resp.status_code == 429
    assert "_auth_user_id" not in client.session


def test_lockout_does_not_block_other_accounts_from_other_addresses(client, guide, store_manager):
    for _ in range(5):
        _login(client, guide.user.username, "wrong-password")
    resp = client.post(
        reverse("login"),
        {"username": store_manager.user.username, "password": PASSWORD},
        REMOTE_ADDR="10.1.2.3",
    )
    assert resp.status_code == 302


def test_user_without_staff_record_cannot_log_in(client, django_user_model):
    from tests.factories import UserFactory

    user = UserFactory()
    resp = _login(client, user.username)
    assert resp.status_code == 400
    assert "_auth_user_id" not in client.session


def test_suspended_brand_staff_cannot_log_in_and_data_stays(client, brand, guide, store):
    Brand.objects.filter(pk=brand.pk).update(status=Brand.Status.SUSPENDED)
    resp = _login(client, guide.user.username)
    assert resp.status_code == 400
    assert "_auth_user_id" not in client.session
    with brand_scope(brand):
        assert Staff.objects.filter(pk=guide.pk).exists()


def test_suspension_cuts_off_existing_sessions(client, brand, guide):
    login_as(client, guide)
    assert client.get(reverse("home")).status_code == 200
    assert client.get("/api/v1/me/").status_code == 200
    services.brand_set_status(brand=brand, actor=Actor.system(), status=Brand.Status.SUSPENDED)
    assert client.get(reverse("home"))["Location"] == reverse("brand-picker")
    resp = client.get("/api/v1/me/")
    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "brand_suspended"


def test_promoter_picks_and_switches_brand(client, brand, other_brand):
    promoter = StaffFactory(brand=brand)
    StaffFactory(brand=other_brand, user=promoter.user, role=Staff.Role.GUIDE)
    resp = _login(client, promoter.user.username)
    assert resp["Location"] == reverse("brand-picker")
    page = client.get(reverse("brand-picker"))
    assert brand.name in page.content.decode() and other_brand.name in page.content.decode()
    client.post(reverse("brand-picker"), {"brand_id": other_brand.pk})
    assert client.get("/api/v1/me/").json()["brand"]["id"] == other_brand.pk
    client.post(reverse("brand-picker"), {"brand_id": brand.pk})
    assert client.get("/api/v1/me/").json()["brand"]["id"] == brand.pk


def test_brand_picker_refuses_a_brand_the_user_does_not_work_for(client, guide, other_brand):
    login_as(client, guide)
    client.post(reverse("brand-picker"), {"brand_id": other_brand.pk})
    assert client.session[SESSION_BRAND_KEY] == guide.brand_id
    client.post(reverse("brand-picker"), {"brand_id": "garbage"})
    assert client.session[SESSION_BRAND_KEY] == guide.brand_id


def test_left_staff_lose_access(client, brand, brand_admin, guide):
    login_as(client, guide)
    services.staff_deactivate(brand=brand, manager=brand_admin, actor=Actor.system(), staff=guide)
    assert client.get(reverse("home")).status_code == 302
    assert client.get("/api/v1/me/").status_code == 403


def _invite(brand, brand_admin, store, phone="13612345678"):
    return services.staff_invite(
        brand=brand,
        manager=brand_admin,
        actor=Actor(user=brand_admin.user),
        name="新同事",
        phone=phone,
        role=Staff.Role.GUIDE,
        store_ids=[store.pk],
    )


def test_invitation_link_sets_password_once(
    client, brand, brand_admin, store, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        staff, link = _invite(brand, brand_admin, store)
    assert ConsoleSender.outbox[-1]["phone"] == "13612345678"
    assert link in ConsoleSender.outbox[-1]["text"]
    assert client.get(link).status_code == 200
    resp = client.post(link, {"password1": "Xk9#long-enough", "password2": "Xk9#long-enough"})
    assert resp.status_code == 302
    assert client.session[SESSION_BRAND_KEY] == brand.pk
    with brand_scope(brand):
        assert Staff.objects.get(pk=staff.pk).status == Staff.Status.ACTIVE
    client.logout()
    assert client.get(link).status_code == 404  # one-time
    assert (
        client.post(link, {"password1": "Other#pass-123", "password2": "Other#pass-123"}).status_code == 404
    )
    assert _login(client, "13612345678", "Xk9#long-enough").status_code == 302


def test_invitation_of_an_existing_user_requires_their_password(
    client, brand, other_brand, brand_admin, store
):
    existing = StaffFactory(brand=other_brand)
    staff, link = _invite(brand, brand_admin, store, phone=existing.user.phone)
    assert staff.user_id == existing.user_id
    resp = client.post(link, {"current_password": "wrong"})
    assert resp.status_code == 400
    with brand_scope(brand):
        assert Staff.objects.get(pk=staff.pk).status == Staff.Status.INVITED
    assert client.post(link, {"current_password": PASSWORD}).status_code == 302


def test_reinvite_revokes_the_old_link(client, brand, brand_admin, store):
    staff, old = _invite(brand, brand_admin, store)
    new = services.invitation_resend(brand=brand, manager=brand_admin, actor=Actor.system(), staff=staff)
    assert client.get(old).status_code == 404
    assert client.get(new).status_code == 200


def test_invitation_link_of_another_brand_slug_is_404(client, brand, other_brand, brand_admin, store):
    _, link = _invite(brand, brand_admin, store)
    token = link.rstrip("/").split("/")[-1]
    assert client.get(f"/invite/{other_brand.slug}/{token}/").status_code == 404
    assert client.get(f"/invite/{brand.slug}/garbage/").status_code == 404


def test_password_change_is_audited(client, brand, guide):
    login_as(client, guide)
    resp = client.post(
        reverse("password-change"),
        {
            "old_password": PASSWORD,
            "new_password1": "Brand-new#pass1",
            "new_password2": "Brand-new#pass1",
        },
    )
    assert resp.status_code == 302
    guide.user.refresh_from_db()
    assert guide.user.check_password("Brand-new#pass1")
    with brand_scope(brand):
        assert AuditLog.objects.filter(action="user.password_changed", actor=guide.user).exists()


def test_password_change_with_wrong_old_password_changes_nothing(client, guide):
    login_as(client, guide)
    resp = client.post(
        reverse("password-change"),
        {
            "old_password": "wrong",
            "new_password1": "Brand-new#pass1",
            "new_password2": "Brand-new#pass1",
        },
    )
    assert resp.status_code == 400
    guide.user.refresh_from_db()
    assert guide.user.check_password(PASSWORD)


def test_logout_needs_post(client, guide):
    login_as(client, guide)
    assert client.get(reverse("logout")).status_code == 405
    client.post(reverse("logout"))
    assert "_auth_user_id" not in client.session


def test_login_returns_to_the_page_asked_for_but_never_offsite(client, guide):
    resp = client.post("/login/?next=/m/me/", {"username": guide.user.username, "password": PASSWORD})
    assert resp["Location"] == "/m/me/"
    client.logout()
    resp = client.post(
        reverse("login"),
        {"username": guide.user.username, "password": PASSWORD, "next": "https://evil.example/"},
    )
    assert resp["Location"] == reverse("home")


def test_chinese_by_default_whatever_the_browser_says(client, guide):
    login_as(client, guide)
    body = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert "首页" in body
    client.post("/i18n/setlang/", {"language": "en", "next": "/m/"})
    assert "Home" in client.get(reverse("home")).content.decode()
