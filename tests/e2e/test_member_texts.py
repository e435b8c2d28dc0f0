"""The texts members agree to and the member code's digits, in headless Chromium: a shopper on a
phone reads the linked member agreement before joining, joins, and a guide types the digits under
the member's QR; on a desktop a brand admin publishes a new version of the privacy policy."""

from __future__ import annotations

import pytest

from members.demo import seed_policies
from members.models import ConsentRecord, MemberPolicy
from retail.tenancy import brand_scope
from tests.e2e.test_members import check, join_path, last_code
from tests.factories import PASSWORD
from tests.helpers.browser import login, shot

pytestmark = pytest.mark.e2e


def test_shopper_reads_the_texts_joins_and_a_guide_types_the_member_code(browse, demo):
    brand, guide = demo["brand"], demo["guide"]
    seed_policies(brand)
    page = browse.page("phone")
    page.goto(join_path(demo, guide))
    links = page.get_by_test_id("policy-links")
    assert "会员协议" in links.inner_text() and "隐私政策" in links.inner_text()
    check(page, "members-join-texts")
    terms = page.get_by_test_id("policy-link-terms").get_attribute("href")
    assert terms == f"/s/{brand.slug}/terms/terms/1/"
    page.goto(terms)
    assert "会员协议" in page.inner_text("[data-testid=policy]")
    check(page, "members-policy")

    page.goto(join_path(demo, guide))
    page.fill("input[name=phone]", "139 1234 5678")
    page.get_by_test_id("send-code").click()
    page.wait_for_function("document.querySelector('#code-status').innerText.includes('验证码已发送')")
    page.fill("input[name=code]", last_code())
    page.get_by_role("button", name="加入会员").click()
    page.wait_for_url(f"**/s/{brand.slug}/")
    with brand_scope(brand):
        record = ConsentRecord.objects.get(member__identities__value="13912345678")
    assert (record.privacy_version, record.terms_version) == (1, 1)
    digits = page.inner_text("[data-testid=member-code-digits]")
    assert all(len(group) <= 4 for group in digits.split(" ")) and digits.replace(" ", "").isdigit()
    check(page, "members-card-digits")

    staff = browse.page("phone")
    login(staff, "yy_guide1", PASSWORD)
    staff.goto("/m/members/scan/")
    staff.fill("input[name=code]", digits)
    staff.locator("#scan-form button[type=submit]").click()
    staff.wait_for_url("**/m/members/*/")
    assert "139****5678" in staff.inner_text("main")
    shot(staff, "members-found-by-digits")


def test_admin_publishes_a_new_version_of_the_privacy_policy(browse, demo):
    brand = demo["brand"]
    seed_policies(brand)
    page = browse.page("desktop")
    login(page, "yy_admin", PASSWORD)
    page.goto("/dashboard/membership/")
    page.get_by_test_id("policy-privacy").locator("a").click()
    page.wait_for_url("**/dashboard/membership/texts/privacy/")
    page.fill(
        "textarea[name=body]", page.input_value("textarea[name=body]") + "\n\n新增：我们不会出售你的数据。"
    )
    page.get_by_test_id("policy-save").click()
    page.wait_for_url("**/dashboard/membership/texts/privacy/")
    assert page.locator("[data-testid=policy-versions] li").count() == 2
    with brand_scope(brand):
        assert MemberPolicy.objects.filter(kind="privacy").count() == 2
    check(page, "members-dash-policy")
