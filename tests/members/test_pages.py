"""Membership pages: the shopper's join, card and data pages, the guide's member pages and the
brand dashboard's member management. Happy paths, role limits (403), other brands' ids (404)
and bad input (400, nothing changed)."""

from __future__ import annotations

import csv
import datetime
import io
import re
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from members import codes, jobs, services, shopper
from members.models import (
    ConsentRecord,
    GuideBinding,
    Member,
    MemberIdentity,
    MemberJob,
    MemberPolicy,
    MembershipProgram,
    MemberTag,
    MergeRecord,
    PointsEntry,
    Tag,
    TagRule,
    Tier,
)
from retail.events import Actor
from retail.models import Brand, Staff
from retail.notify import ConsoleSender
from retail.tenancy import brand_scope
from tests.factories import MemberFactory, StaffFactory, StoreFactory
from tests.helpers.auth import login_as
from tests.helpers.otp import last_code
from tests.helpers.pages import text

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}
SYS = Actor.system()


# --- helpers ---


def fresh(member: Member) -> Member:
    with brand_scope(member.brand_id):
        return Member.objects.select_related("guide", "tier").get(pk=member.pk)


def member_count(brand) -> int:
    with brand_scope(brand):
        return Member.objects.for_brand(brand).count()


def join_url(brand, staff) -> str:
    return reverse(
        "member-join", args=[brand.slug, codes.guide_join_token(brand_id=brand.pk, staff_id=staff.pk)]
    )


def as_shopper(client, brand, member):
    session = client.session
    session[shopper.SESSION_KEY] = {str(brand.pk): member.pk}
    session.save()
    return client


def shopper_member_id(client, brand):
    return client.session.get(shopper.SESSION_KEY, {}).get(str(brand.pk))


def bind(brand, member, guide):
    with brand_scope(brand):
        admin = Staff.objects.filter(role=Staff.Role.BRAND_ADMIN).first() or StaffFactory(
            brand=brand, role=Staff.Role.BRAND_ADMIN
        )
    services.member_guide_set(brand=brand, staff=admin, actor=SYS, member=member, guide=guide)


def make_tag(brand, admin, name, group=Tag.Group.OTHER) -> Tag:
    return services.tag_create(brand=brand, manager=admin, actor=SYS, name=name, group=group)


# --- shopper: joining ---


def test_join_page_shows_the_brand_the_guide_and_the_store(client, brand, guide, store):
    response = client.get(join_url(brand, guide))
    body = text(response)
    assert response.status_code == 200
    assert brand.name in body and guide.name in body and store.name in body
    assert "获取验证码" in body and "加入会员" in body
    consent = re.search(r'<input[^>]*name="consent"[^>]*>', body).group(0)
    assert "checked" not in consent  # marketing consent is opt-in
    assert "你可以随时在会员页修改" in body


def test_join_link_must_be_a_valid_token_of_an_active_brand(client, brand, other_brand, guide, other_admin):
    assert client.get(reverse("member-join", args=[brand.slug, "forged~token"])).status_code == 404
    # A real token of the other brand, or of another brand's staff member, opened under this slug.
    foreign = codes.guide_join_token(brand_id=other_brand.pk, staff_id=guide.pk)
    assert client.get(reverse("member-join", args=[brand.slug, foreign])).status_code == 404
    assert client.get(join_url(brand, other_admin)).status_code == 404
    assert client.get(reverse("member-join", args=["no-such-brand", "x"])).status_code == 404
    Brand.objects.filter(pk=brand.pk).update(status=Brand.Status.SUSPENDED)
    assert client.get(join_url(brand, guide)).status_code == 404


def test_sending_a_code_and_asking_again_too_soon(client, brand, guide):
    url = join_url(brand, guide) + "code/"
    response = client.post(url, {"phone": "137 1234 5678"}, **HX)
    assert response.status_code == 200
    assert "验证码已发送至 137****5678" in text(response)
    assert ConsoleSender.outbox[-1]["phone"] == "13712345678"
    assert brand.name in ConsoleSender.outbox[-1]["text"]

    again = client.post(url, {"phone": "13712345678"}, **HX)
    assert again.status_code == 429
    assert "请等一分钟后再获取" in text(again)
    assert len(ConsoleSender.outbox) == 1

    bad = client.post(url, {"phone": "12345"}, **HX)
    assert bad.status_code == 400
    assert "请输入有效的中国大陆手机号" in text(bad)
    assert len(ConsoleSender.outbox) == 1
    assert client.get(url).status_code == 405


def test_full_join_flow_with_a_one_time_code(client, brand, guide, store):
    url = join_url(brand, guide)
    client.post(url + "code/", {"phone": "13712345678"}, **HX)
    code = last_code()
    wrong = "000000" if code != "000000" else "111111"

    response = client.post(url, {"phone": "13712345678", "code": wrong, "consent": "on"})
    assert response.status_code == 400
    assert "验证码错误" in text(response)
    assert member_count(brand) == 0

    response = client.post(url, {"phone": "13712345678", "code": code, "consent": "on"})
    assert response.status_code == 302
    assert response["Location"] == reverse("shopper-home", args=[brand.slug])
    member = services.member_find(brand=brand, kind="phone", value="13712345678")
    member = fresh(member)
    assert member.guide_id == guide.pk and member.join_store_id == store.pk and member.marketing_consent
    with brand_scope(brand):
        assert ConsentRecord.objects.get(member=member).source == ConsentRecord.Source.JOIN_PAGE
        assert GuideBinding.objects.get(member=member).start_reason == GuideBinding.Reason.JOIN
    assert shopper_member_id(client, brand) == member.pk

    card = client.get(response["Location"])
    body = text(card)
    assert card.status_code == 200
    assert "欢迎！你已成为悦颜美妆会员。" in body
    assert guide.name in body and store.name in body
    assert "<svg" in body and 'hx-trigger="every 60s"' in body

    # The code was used up: the same code cannot log anyone in again.
    client.post(reverse("shopper-logout", args=[brand.slug]))
    again = client.post(url, {"phone": "13712345678", "code": code})
    assert again.status_code == 400 and "验证码已过期" in text(again)


def test_joining_without_asking_for_a_code_is_refused(client, brand, guide):
    response = client.post(join_url(brand, guide), {"phone": "13712345678", "code": "123456"})
    assert response.status_code == 400
    assert "验证码已过期，请重新获取" in text(response)
    assert member_count(brand) == 0
    bad = client.post(join_url(brand, guide), {"phone": "13712345678", "code": "12ab"})
    assert bad.status_code == 400 and "6 位验证码" in text(bad)


def test_an_existing_member_is_recognised_and_may_switch_to_the_new_guide(
    client, brand, guide, store, member
):
    first_guide = StaffFactory(brand=brand, stores=[store], name="李娜")
    bind(brand, member, first_guide)
    url = join_url(brand, guide)
    client.post(url + "code/", {"phone": "13711112222"}, **HX)
    response = client.post(url, {"phone": "13711112222", "code": last_code()}, follow=True)
    body = text(response)
    assert response.status_code == 200
    assert member_count(brand) == 1
    assert "欢迎回来" in body
    assert fresh(member).guide_id == first_guide.pk  # the first guide keeps the member by default
    assert "你目前仍由导购 李娜 服务" in body and f"改为 {guide.name}" in body

    response = client.post(reverse("shopper-guide", args=[brand.slug]), {"action": "switch"}, follow=True)
    assert f"{guide.name} 现在是你的专属导购" in text(response)
    assert fresh(member).guide_id == guide.pk
    with brand_scope(brand):
        assert GuideBinding.objects.get(member=member, ended_at__isnull=True).start_reason == "member_request"
    assert "你目前仍由导购" not in text(client.get(reverse("shopper-home", args=[brand.slug])))


def test_declining_the_new_guide_keeps_the_old_one(client, brand, guide, store, member):
    first_guide = StaffFactory(brand=brand, stores=[store], name="李娜")
    bind(brand, member, first_guide)
    as_shopper(client, brand, member)
    session = client.session
    session[shopper.SWITCH_KEY] = {str(brand.pk): guide.pk}
    session.save()
    assert "你目前仍由导购" in text(client.get(reverse("shopper-home", args=[brand.slug])))
    client.post(reverse("shopper-guide", args=[brand.slug]), {"action": "keep"})
    assert fresh(member).guide_id == first_guide.pk
    assert "你目前仍由导购" not in text(client.get(reverse("shopper-home", args=[brand.slug])))


# --- shopper: logging in, the member card ---


def test_member_pages_send_logged_out_shoppers_to_the_login(client, brand):
    login = reverse("shopper-login", args=[brand.slug])
    for name in ("shopper-home", "shopper-data", "shopper-erase"):
        assert client.get(reverse(name, args=[brand.slug]))["Location"] == login
    partial = client.get(reverse("shopper-code", args=[brand.slug]), **HX)
    assert partial["HX-Redirect"] == login
    assert client.post(reverse("shopper-consent", args=[brand.slug]), {"granted": "1"})["Location"] == login


def test_login_tells_an_unknown_phone_to_ask_a_guide_and_creates_nobody(client, brand):
    login = reverse("shopper-login", args=[brand.slug])
    assert client.get(login).status_code == 200
    client.post(reverse("shopper-login-code", args=[brand.slug]), {"phone": "13900001111"}, **HX)
    response = client.post(login, {"phone": "13900001111", "code": last_code()})
    assert response.status_code == 400
    assert "该手机号还不是会员" in text(response) and "扫描导购的会员二维码" in text(response)
    assert member_count(brand) == 0
    assert shopper_member_id(client, brand) is None


def test_login_with_a_known_phone_opens_the_card(client, brand, member):
    login = reverse("shopper-login", args=[brand.slug])
    client.post(reverse("shopper-login-code", args=[brand.slug]), {"phone": "13711112222"}, **HX)
    code = last_code()
    assert (
        client.post(
            login, {"phone": "13711112222", "code": "999999" if code != "999999" else "888888"}
        ).status_code
        == 400
    )
    response = client.post(login, {"phone": "13711112222", "code": code})
    assert response["Location"] == reverse("shopper-home", args=[brand.slug])
    assert shopper_member_id(client, brand) == member.pk
    assert client.get(login)["Location"] == reverse("shopper-home", args=[brand.slug])


def test_member_card_shows_tier_points_guide_and_a_member_code(client, brand, brand_admin, guide, member):
    services.tier_save(
        brand=brand, manager=brand_admin, actor=SYS, data={"code": "GOLD", "name": "金卡", "min_spend_fen": 0}
    )
    bind(brand, member, guide)
    services.points_earn(
        brand=brand, member=member, points=320, source="order:1", note="南京西路店消费", spend_fen=32000
    )
    as_shopper(client, brand, member)
    body = text(client.get(reverse("shopper-home", args=[brand.slug])))
    assert "金卡" in body and "320" in body and "¥320.00" in body and guide.name in body
    assert "南京西路店消费" in body and "+320" in body
    code = re.search(r'data-code="([^"]+)"', body).group(1)
    assert codes.member_code_read(code, brand_id=brand.pk) == member.pk


def test_member_code_partial_rotates(client, brand, member):
    as_shopper(client, brand, member)
    url = reverse("shopper-code", args=[brand.slug])
    first, second = client.get(url, **HX), client.get(url, **HX)
    assert first.status_code == second.status_code == 200
    assert "<html" not in text(first)
    c1 = re.search(r'data-code="([^"]+)"', text(first)).group(1)
    c2 = re.search(r'data-code="([^"]+)"', text(second)).group(1)
    assert c1 != c2
    assert (
        codes.member_code_read(c1, brand_id=brand.pk)
        == codes.member_code_read(c2, brand_id=brand.pk)
        == member.pk
    )
    assert first["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"


def test_a_merged_member_follows_the_merge(client, brand, member):
    newer = MemberFactory(brand=brand, name="张三新", phone="13722223333")
    services.members_merge(brand=brand, survivor=member, absorbed=newer, actor=SYS, reason="test")
    as_shopper(client, brand, newer)
    response = client.get(reverse("shopper-home", args=[brand.slug]))
    assert response.status_code == 200 and member.name in text(response)
    assert shopper_member_id(client, brand) == member.pk


def test_an_erased_member_or_another_brand_is_logged_out(client, brand, other_brand, member):
    as_shopper(client, brand, member)
    # Logged in at one brand is not logged in at another.
    other = client.get(reverse("shopper-home", args=[other_brand.slug]))
    assert other["Location"] == reverse("shopper-login", args=[other_brand.slug])
    services.member_erase(brand=brand, member=member, actor=SYS, source=ConsentRecord.Source.STAFF)
    assert client.get(reverse("shopper-home", args=[brand.slug]))["Location"] == reverse(
        "shopper-login", args=[brand.slug]
    )
    assert shopper_member_id(client, brand) is None


def test_shopper_pages_of_a_suspended_brand_are_gone(client, brand, member):
    as_shopper(client, brand, member)
    Brand.objects.filter(pk=brand.pk).update(status=Brand.Status.SUSPENDED)
    for name in ("shopper-home", "shopper-login", "shopper-data"):
        assert client.get(reverse(name, args=[brand.slug])).status_code == 404


def test_shopper_logout(client, brand, member):
    as_shopper(client, brand, member)
    assert client.get(reverse("shopper-logout", args=[brand.slug])).status_code == 405
    response = client.post(reverse("shopper-logout", args=[brand.slug]), follow=True)
    assert "你已退出登录" in text(response)
    assert shopper_member_id(client, brand) is None


# --- shopper: my data, consent, erasure ---


def test_my_data_shows_what_is_stored_but_not_the_internal_tags(client, brand, brand_admin, guide, member):
    bind(brand, member, guide)
    tag = make_tag(brand, brand_admin, "价格敏感")
    services.member_tags_change(brand=brand, staff=guide, actor=SYS, member=member, add=[tag.pk])
    services.points_earn(brand=brand, member=member, points=50, source="order:9")
    as_shopper(client, brand, member)
    body = text(client.get(reverse("shopper-data", args=[brand.slug])))
    assert "137****2222" in body and "13711112222" not in body
    assert member.name in body and guide.name in body and "获得" in body
    assert "价格敏感" not in body
    assert "删除我的数据" in body and "接收本品牌的优惠和资讯" in body


def test_consent_switch_records_each_change(client, brand, member):
    as_shopper(client, brand, member)
    url = reverse("shopper-consent", args=[brand.slug])
    response = client.post(url, {"granted": "1"}, follow=True)
    assert "你将收到悦颜美妆的优惠和资讯" in text(response)
    assert fresh(member).marketing_consent
    client.post(url, {"granted": "0"})
    assert not fresh(member).marketing_consent
    with brand_scope(brand):
        records = list(ConsentRecord.objects.filter(member=member).order_by("id"))
    assert [(r.granted, r.source) for r in records] == [(True, "member_page"), (False, "member_page")]

    bad = client.post(url, {"granted": "maybe"})
    assert bad.status_code == 400
    with brand_scope(brand):
        assert ConsentRecord.objects.filter(member=member).count() == 2


def test_erasing_my_data_needs_confirmation_then_logs_out(client, brand, member):
    as_shopper(client, brand, member)
    url = reverse("shopper-erase", args=[brand.slug])
    page = client.get(url)
    assert page.status_code == 200 and "永久结束" in text(page)
    refused = client.post(url, {})
    assert refused.status_code == 400 and "请勾选以确认" in text(refused)
    assert fresh(member).status == Member.Status.ACTIVE

    response = client.post(url, {"confirm": "on"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("shopper-login", args=[brand.slug])
    assert "会员数据已删除，并已退出登录" in text(response)
    gone = fresh(member)
    assert gone.status == Member.Status.ERASED and gone.name == ""
    with brand_scope(brand):
        assert not MemberIdentity.objects.filter(member=member).exists()
    assert shopper_member_id(client, brand) is None


def test_shopper_pages_switch_to_english(client, brand, guide):
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    body = text(client.get(join_url(brand, guide)))
    assert "Get code" in body and "获取验证码" not in body


# --- guide mobile: my members ---


def test_guides_see_their_own_members_with_masked_phones(client, brand, guide, store, member):
    bind(brand, member, guide)
    other_guide = StaffFactory(brand=brand, stores=[store])
    someone_else = MemberFactory(brand=brand, name="李四", phone="13755556666")
    bind(brand, someone_else, other_guide)
    login_as(client, guide)
    response = client.get(reverse("members-tab"))
    body = text(response)
    assert response.status_code == 200
    assert 'class="active" aria-current="page" data-tab="members"' in body
    assert member.name in body and "137****2222" in body and "13711112222" not in body
    assert "李四" not in body
    assert reverse("m-member", args=[member.pk]) in body


def test_member_search_is_an_htmx_partial(client, brand, guide, member):
    bind(brand, member, guide)
    other = MemberFactory(brand=brand, name="王五", phone="13788889999")
    bind(brand, other, guide)
    login_as(client, guide)
    partial = client.get(reverse("members-tab"), {"q": "2222"}, **HX)
    body = text(partial)
    assert "<html" not in body and member.name in body and "王五" not in body
    none = client.get(reverse("members-tab"), {"q": "没有这个人"}, **HX)
    assert "没有找到会员" in text(none)


def test_empty_member_list_points_to_the_join_code(client, guide):
    login_as(client, guide)
    body = text(client.get(reverse("members-tab")))
    assert "还没有会员" in body and reverse("m-join-qr") in body


def test_store_managers_and_admins_see_wider_lists(client, brand, guide, store_manager, brand_admin, member):
    far_store = StoreFactory(brand=brand, code="BJ001", name="北京三里屯店")
    far_guide = StaffFactory(brand=brand, stores=[far_store])
    far = MemberFactory(brand=brand, name="远方会员", phone="13766667777")
    bind(brand, far, far_guide)
    bind(brand, member, guide)
    login_as(client, store_manager)
    body = text(client.get(reverse("members-tab")))
    assert member.name in body and "远方会员" not in body
    login_as(client, brand_admin)
    body = text(client.get(reverse("members-tab")))
    assert member.name in body and "远方会员" in body


def test_member_list_is_paginated(client, brand, guide):
    for i in range(35):
        m = MemberFactory(brand=brand, name=f"会员{i:02d}", phone=f"1370000{i:04d}")
        bind(brand, m, guide)
    login_as(client, guide)
    first = text(client.get(reverse("members-tab")))
    assert "共 35 位会员" in first and "第 1 / 2 页" in first and "下一页" in first
    assert first.count('data-testid="member-row-') == 30
    second = client.get(reverse("members-tab"), {"page": 2})
    assert second.status_code == 200 and text(second).count('data-testid="member-row-') == 5


def test_member_detail_masks_phones_for_guides_not_managers(client, brand, guide, store_manager, member):
    bind(brand, member, guide)
    services.points_earn(brand=brand, member=member, points=80, source="order:2")
    url = reverse("m-member", args=[member.pk])
    login_as(client, guide)
    body = text(client.get(url))
    assert "137****2222" in body and "13711112222" not in body
    assert "+80" in body and guide.name in body and "员工设置" in body  # the binding and its reason
    login_as(client, store_manager)
    assert "13711112222" in text(client.get(url))


def test_member_detail_of_another_brand_or_another_guide_is_404(
    client, brand, guide, store, member, other_member
):
    login_as(client, guide)
    assert client.get(reverse("m-member", args=[other_member.pk])).status_code == 404
    assert client.get(reverse("m-member", args=[member.pk])).status_code == 404  # not bound to this guide
    bind(brand, member, guide)
    assert client.get(reverse("m-member", args=[member.pk])).status_code == 200


def test_tags_are_added_and_removed_with_htmx(
    client, brand, brand_admin, guide, member, other_brand, other_admin
):
    bind(brand, member, guide)
    vip = make_tag(brand, brand_admin, "高价值", Tag.Group.VALUE)
    foreign = make_tag(other_brand, other_admin, "别家标签")
    login_as(client, guide)
    url = reverse("member-tags", args=[member.pk])
    added = client.post(url, {"add": vip.pk}, **HX)
    assert added.status_code == 200 and "高价值" in text(added) and 'id="member-tags"' in text(added)
    with brand_scope(brand):
        assert MemberTag.objects.filter(member=member, tag=vip).exists()

    refused = client.post(url, {"add": foreign.pk}, **HX)
    assert refused.status_code == 400 and "未知标签" in text(refused)
    assert client.post(url, {}, **HX).status_code == 400
    with brand_scope(brand):
        assert MemberTag.objects.filter(member=member).count() == 1

    removed = client.post(url, {"remove": vip.pk}, **HX)
    assert removed.status_code == 200
    with brand_scope(brand):
        assert not MemberTag.objects.filter(member=member).exists()
    # Without htmx: back to the page.
    assert client.post(url, {"add": vip.pk})["Location"] == reverse("m-member", args=[member.pk])
    assert client.post(reverse("member-tags", args=[900999]), {"add": vip.pk}).status_code == 404


def test_tags_of_another_brands_member_are_404(client, guide, other_member, other_brand, other_admin):
    tag = make_tag(other_brand, other_admin, "别家")
    login_as(client, guide)
    assert (
        client.post(reverse("member-tags", args=[other_member.pk]), {"add": tag.pk}, **HX).status_code == 404
    )


# --- the texts members agree to -----------------------------------------------------------------


def publish(client, kind, body):
    return client.post(reverse("dash-policy", args=[kind]), {"body": body})


def test_brand_edits_its_texts_in_versions_and_the_join_page_links_the_ones_in_force(
    client, brand, brand_admin, guide, store
):
    login_as(client, brand_admin)
    assert 'data-testid="policy-privacy"' in text(client.get(reverse("dash-program")))
    assert client.get(reverse("dash-policy", args=["privacy"])).status_code == 200
    assert publish(client, "privacy", "第一版：我们只为会员服务使用你的手机号。").status_code == 302
    assert publish(client, "terms", "会员协议第一版").status_code == 302
    assert publish(client, "terms", "会员协议第一版").status_code == 302  # the same text: no new version
    assert (
        publish(client, "privacy", "第二版：我们只为会员服务使用你的手机号。\n\n第二段。").status_code == 302
    )
    with brand_scope(brand):
        assert sorted(MemberPolicy.objects.values_list("kind", "version")) == [
            ("privacy", 1),
            ("privacy", 2),
            ("terms", 1),
        ]
    page = text(client.get(reverse("dash-policy", args=["privacy"])))
    assert "第二版" in page and 'data-testid="policy-versions"' in page
    client.post(reverse("logout"))

    # The join page links to the versions in force, which are public pages.
    body = text(client.get(join_url(brand, guide)))
    privacy = reverse("shopper-policy-version", args=[brand.slug, "privacy", 2])
    terms = reverse("shopper-policy-version", args=[brand.slug, "terms", 1])
    assert f'href="{privacy}"' in body and f'href="{terms}"' in body
    assert 'name="privacy_version" value="2"' in body and 'name="terms_version" value="1"' in body
    shown = text(client.get(privacy))
    assert "第二版" in shown and "<p>第二段。</p>" in shown
    assert "第一版" in text(client.get(reverse("shopper-policy-version", args=[brand.slug, "privacy", 1])))
    assert "第二版" in text(client.get(reverse("shopper-policy", args=[brand.slug, "privacy"])))

    # Joining stores the versions agreed to in the consent record.
    url = join_url(brand, guide)
    client.post(url + "code/", {"phone": "13712345678"}, **HX)
    response = client.post(
        url, {"phone": "13712345678", "code": last_code(), "privacy_version": "2", "terms_version": "1"}
    )
    assert response.status_code == 302
    member = services.member_find(brand=brand, kind="phone", value="13712345678")
    with brand_scope(brand):
        record = ConsentRecord.objects.get(member=member)
    assert (record.privacy_version, record.terms_version, record.granted) == (2, 1, False)


def test_joining_with_a_text_that_changed_meanwhile_is_refused(client, brand, brand_admin, guide, store):
    services.member_policy_publish(brand=brand, manager=brand_admin, actor=SYS, kind="privacy", body="v1")
    url = join_url(brand, guide)
    client.post(url + "code/", {"phone": "13712345678"}, **HX)
    code = last_code()
    services.member_policy_publish(brand=brand, manager=brand_admin, actor=SYS, kind="privacy", body="v2")
    response = client.post(url, {"phone": "13712345678", "code": code, "privacy_version": "1"})
    assert response.status_code == 400 and 'name="privacy_version" value="2"' in text(response)
    assert member_count(brand) == 0


def test_texts_of_another_brand_unknown_kinds_and_bad_input(
    client, brand, other_brand, brand_admin, other_admin, guide, store_manager
):
    services.member_policy_publish(
        brand=other_brand, manager=other_admin, actor=SYS, kind="terms", body="别家协议"
    )
    # Another brand's text is not this brand's: 404 under this brand's address.
    assert client.get(reverse("shopper-policy", args=[brand.slug, "terms"])).status_code == 404
    assert client.get(reverse("shopper-policy-version", args=[brand.slug, "terms", 1])).status_code == 404
    assert client.get(reverse("shopper-policy", args=[other_brand.slug, "terms"])).status_code == 200
    assert client.get(reverse("shopper-policy", args=[brand.slug, "cookies"])).status_code == 404
    login_as(client, brand_admin)
    assert client.get(reverse("dash-policy", args=["cookies"])).status_code == 404
    assert publish(client, "privacy", "   ").status_code == 400
    assert publish(client, "privacy", "x" * 50_001).status_code == 400
    login_as(client, store_manager)
    assert publish(client, "privacy", "店长不能改").status_code == 403
    with brand_scope(brand):
        assert not MemberPolicy.objects.exists()
    # No texts yet: the join page says nothing about them.
    client.post(reverse("logout"))
    assert 'data-testid="policy-links"' not in text(client.get(join_url(brand, guide)))


def test_member_card_shows_the_code_as_grouped_digits_the_scan_page_accepts(
    client, brand, other_brand, guide, member, monkeypatch
):
    bind(brand, member, guide)
    as_shopper(client, brand, member)
    body = text(client.get(reverse("shopper-home", args=[brand.slug])))
    shown = re.search(r'data-testid="member-code-digits"[^>]*>([0-9 ]+)<', body).group(1)
    assert re.fullmatch(r"(\d{4} )*\d{1,4}", shown)
    digits = shown.replace(" ", "")
    assert digits.startswith(str(member.pk)) and len(digits) == len(str(member.pk)) + codes.DIGITS_CHECK
    assert codes.member_code_read(shown, brand_id=brand.pk) == member.pk
    with pytest.raises(codes.CodeError):
        codes.member_code_read(shown, brand_id=other_brand.pk)  # another brand's lookup: not theirs
    login_as(client, guide)
    url = reverse("m-member-scan")
    response = client.post(url, {"code": shown})
    assert response["Location"] == reverse("m-member", args=[member.pk])
    # A wrong digit, or the digits of a few minutes ago, are refused.
    wrong = digits[:-1] + str((int(digits[-1]) + 1) % 10)
    assert client.post(url, {"code": wrong}).status_code == 400
    old = codes.member_code_digits(brand_id=brand.pk, member_id=member.pk, now=codes.time.time() - 300)
    response = client.post(url, {"code": old})
    assert response.status_code == 400 and "会员码已过期" in text(response)
    assert client.post(url, {"code": "1234"}).status_code == 400


# --- guide mobile: scanning a member code, my join code ---


def test_scanning_a_member_code_opens_the_member(client, brand, guide, member):
    bind(brand, member, guide)
    login_as(client, guide)
    page = client.get(reverse("m-member-scan"))
    assert page.status_code == 200 and "vendor/jsQR.js" in text(page) and "js/scan.js" in text(page)
    code = codes.member_code_issue(brand_id=brand.pk, member_id=member.pk)
    response = client.post(reverse("m-member-scan"), {"code": code})
    assert response["Location"] == reverse("m-member", args=[member.pk])


def test_forged_foreign_and_expired_codes_are_refused(client, brand, other_brand, guide, member, monkeypatch):
    bind(brand, member, guide)
    login_as(client, guide)
    url = reverse("m-member-scan")
    good = codes.member_code_issue(brand_id=brand.pk, member_id=member.pk)
    forged = good[:-3] + ("aaa" if not good.endswith("aaa") else "bbb")
    response = client.post(url, {"code": forged})
    assert response.status_code == 400 and "不是本品牌的有效会员码" in text(response)
    foreign = codes.member_code_issue(brand_id=other_brand.pk, member_id=member.pk)
    assert "不是本品牌的有效会员码" in text(client.post(url, {"code": foreign}))
    assert client.post(url, {"code": ""}).status_code == 400

    monkeypatch.setattr(codes, "CODE_MAX_AGE", -1)
    expired = client.post(url, {"code": good})
    assert expired.status_code == 400 and "会员码已过期" in text(expired)


def test_scanning_a_member_of_another_store_is_refused(client, brand, guide, member):
    login_as(client, guide)  # the member is nobody's, so not this guide's
    code = codes.member_code_issue(brand_id=brand.pk, member_id=member.pk)
    response = client.post(reverse("m-member-scan"), {"code": code})
    assert response.status_code == 403 and "由其他门店服务" in text(response)


def test_join_qr_page_for_guides_and_managers_only(client, brand, guide, store_manager, brand_admin):
    login_as(client, guide)
    home = text(client.get(reverse("home")))
    assert reverse("m-join-qr") in home
    response = client.get(reverse("m-join-qr"))
    body = text(response)
    assert response.status_code == 200 and "<svg" in body
    link = re.search(r'id="join-link" type="text" value="([^"]+)"', body).group(1)
    assert link.startswith("http://testserver/j/yueyan/")
    assert codes.guide_join_read(link.rstrip("/").split("/")[-1], brand_id=brand.pk) == guide.pk
    login_as(client, store_manager)
    assert client.get(reverse("m-join-qr")).status_code == 200
    login_as(client, brand_admin)
    assert client.get(reverse("m-join-qr")).status_code == 403


# --- dashboard: member list and export ---


@pytest.fixture
def crowd(brand, brand_admin, guide, store, member):
    """A few members with tags, tiers, guides, join and purchase dates."""
    gold = services.tier_save(
        brand=brand,
        manager=brand_admin,
        actor=SYS,
        data={"code": "GOLD", "name": "金卡", "min_spend_fen": 100000},
    )
    vip = make_tag(brand, brand_admin, "高价值", Tag.Group.VALUE)
    rich = MemberFactory(brand=brand, name="钱多多", phone="13733334444")
    services.points_earn(brand=brand, member=rich, points=2000, source="order:rich", spend_fen=200000)
    services.member_tags_change(brand=brand, staff=brand_admin, actor=SYS, member=rich, add=[vip.pk])
    bind(brand, rich, guide)
    old = MemberFactory(brand=brand, name="老会员", phone="13744445555")
    with brand_scope(brand):
        Member.objects.filter(pk=old.pk).update(joined_at=timezone.now() - datetime.timedelta(days=400))
    return {"gold": gold, "vip": vip, "rich": rich, "old": old}


def test_dashboard_member_list_filters(client, brand, brand_admin, guide, member, crowd):
    login_as(client, brand_admin)
    url = reverse("dash-members")
    body = text(client.get(url))
    assert all(n in body for n in (member.name, "钱多多", "老会员"))
    assert "13733334444" in body  # admins see full numbers
    assert "导出 CSV" in body

    def names(params):
        r = client.get(url, params, **HX)
        assert r.status_code == 200
        return {n for n in (member.name, "钱多多", "老会员") if n in text(r)}

    assert names({"tags": [crowd["vip"].pk]}) == {"钱多多"}
    assert names({"tier": crowd["gold"].pk}) == {"钱多多"}
    assert names({"guide": guide.pk}) == {"钱多多"}
    assert names({"q": "4444"}) == {"钱多多"}
    today = datetime.date.today()
    assert names({"joined_to": (today - datetime.timedelta(days=300)).isoformat()}) == {"老会员"}
    today = today.isoformat()
    assert names({"joined_from": today}) == {member.name, "钱多多"}
    assert names({"purchased_from": today}) == {"钱多多"}


def test_dashboard_member_list_bad_filters_are_400(client, brand_admin, member):
    login_as(client, brand_admin)
    response = client.get(reverse("dash-members"), {"joined_from": "2026-05-01", "joined_to": "2026-01-01"})
    assert response.status_code == 400 and "结束日期早于开始日期" in text(response)
    assert client.get(reverse("dash-members"), {"tier": "abc"}).status_code == 400
    partial = client.get(
        reverse("dash-members"), {"joined_from": "2026-05-01", "joined_to": "2026-01-01"}, **HX
    )
    assert (
        partial.status_code == 400
        and "结束日期早于开始日期" in text(partial)
        and "<html" not in text(partial)
    )


def test_dashboard_member_list_roles(client, brand, guide, store_manager, member):
    bind(brand, member, guide)
    login_as(client, guide)
    assert client.get(reverse("dash-members")).status_code == 403
    login_as(client, store_manager)
    body = text(client.get(reverse("dash-members")))
    assert member.name in body and "137****2222" in body and "13711112222" not in body


def test_export_runs_as_a_job_and_serves_the_file(
    client, brand, brand_admin, member, crowd, other_admin, django_capture_on_commit_callbacks
):
    login_as(client, brand_admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("dash-members-export"), {"tags": [crowd["vip"].pk]})
    assert response.status_code == 302
    job_id = int(response["Location"].rstrip("/").split("/")[-1])
    assert response["Location"] == reverse("dash-member-job", args=[job_id])
    page = text(client.get(response["Location"]))
    assert "已完成" in page and "下载 CSV 文件" in page and 'hx-trigger="every 1s"' not in page

    file = client.get(reverse("dash-member-job-file", args=[job_id]))
    assert file.status_code == 200 and "attachment" in file["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(file.streaming_content).decode("utf-8-sig"))))
    assert rows[0] == jobs.EXPORT_COLUMNS
    assert [r[1] for r in rows[1:]] == ["钱多多"] and rows[1][2] == "13733334444"
    assert "/media/" not in page

    login_as(client, other_admin)
    assert client.get(reverse("dash-member-job", args=[job_id])).status_code == 404
    assert client.get(reverse("dash-member-job-file", args=[job_id])).status_code == 404


def test_store_managers_export_masked_and_see_only_their_jobs(
    client, brand, brand_admin, store_manager, guide, member, django_capture_on_commit_callbacks
):
    bind(brand, member, guide)
    login_as(client, store_manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("dash-members-export"), {})
    job_id = int(response["Location"].rstrip("/").split("/")[-1])
    file = client.get(reverse("dash-member-job-file", args=[job_id]))
    content = b"".join(file.streaming_content).decode("utf-8-sig")
    assert "137****2222" in content and "13711112222" not in content
    # An import by the admin is not the manager's to see.
    with django_capture_on_commit_callbacks(execute=True):
        admin_job = jobs.import_start(
            brand=brand,
            manager=brand_admin,
            actor=Actor(user=brand_admin.user),
            upload=SimpleUploadedFile("m.csv", b"phone\n13700000009\n"),
        )
    assert client.get(reverse("dash-member-job", args=[admin_job.pk])).status_code == 404
    assert client.get(reverse("dash-member-import")).status_code == 200
    login_as(client, guide)
    assert client.post(reverse("dash-members-export"), {}).status_code == 403


# --- dashboard: member detail, guide, points ---


def test_dashboard_member_detail(client, brand, brand_admin, guide, member, other_member):
    bind(brand, member, guide)
    login_as(client, brand_admin)
    response = client.get(reverse("dash-member", args=[member.pk]))
    body = text(response)
    assert response.status_code == 200
    assert member.name in body and "13711112222" in body and guide.name in body
    assert "调整积分" in body and "设为专属导购" in body and 'name="source" value="adjust:' in body
    assert client.get(reverse("dash-member", args=[other_member.pk])).status_code == 404


def test_setting_the_exclusive_guide(client, brand, brand_admin, guide, store, member, other_brand):
    new_guide = StaffFactory(brand=brand, stores=[store], name="周敏")
    foreign = StaffFactory(brand=other_brand)
    login_as(client, brand_admin)
    url = reverse("dash-member-guide", args=[member.pk])
    response = client.post(url, {"guide": new_guide.pk}, follow=True)
    assert "周敏 现在是该会员的专属导购" in text(response)
    assert fresh(member).guide_id == new_guide.pk

    bad = client.post(url, {"guide": foreign.pk})
    assert bad.status_code == 400
    assert fresh(member).guide_id == new_guide.pk
    assert client.post(url, {"guide": brand_admin.pk}).status_code == 400  # admins serve no members


def test_points_adjustment_is_idempotent_and_validated(client, brand, brand_admin, store_manager, member):
    login_as(client, brand_admin)
    url = reverse("dash-member-points", args=[member.pk])
    source = f"adjust:{uuid.uuid4()}"
    response = client.post(url, {"points": "150", "note": "补录积分", "source": source}, follow=True)
    assert "积分已调整，当前余额：150" in text(response)
    again = client.post(url, {"points": "150", "note": "补录积分", "source": source}, follow=True)
    assert "未重复执行" in text(again)
    assert fresh(member).points_balance == 150
    with brand_scope(brand):
        entry = PointsEntry.objects.get(member=member)
        assert (entry.kind, entry.amount, entry.created_by_id) == ("adjust", 150, brand_admin.user_id)

    for data in (
        {"points": "0", "note": "x", "source": f"adjust:{uuid.uuid4()}"},
        {"points": "10", "note": " ", "source": f"adjust:{uuid.uuid4()}"},
        {"points": "1.5", "note": "x", "source": f"adjust:{uuid.uuid4()}"},
        {"points": "10", "note": "x", "source": "order:1"},
        {"points": "-500", "note": "扣减", "source": f"adjust:{uuid.uuid4()}"},
    ):
        assert client.post(url, data).status_code == 400, data
    assert "积分不足" in text(
        client.post(url, {"points": "-500", "note": "扣减", "source": f"adjust:{uuid.uuid4()}"})
    )
    assert fresh(member).points_balance == 150

    login_as(client, store_manager)
    assert (
        client.post(url, {"points": "5", "note": "x", "source": f"adjust:{uuid.uuid4()}"}).status_code == 403
    )


# --- dashboard: merges ---


def test_merge_review_and_undo(client, brand, brand_admin, store_manager, member, other_admin):
    newer = MemberFactory(brand=brand, name="张三小号", phone="13799990000")
    services.points_earn(brand=brand, member=newer, points=40, source="order:n")
    record = services.members_merge(
        brand=brand,
        survivor=member,
        absorbed=newer,
        actor=Actor(user=brand_admin.user),
        reason="同一手机号",
        evidence=("phone", "13799990000"),
    )
    login_as(client, brand_admin)
    absorbed_page = text(client.get(reverse("dash-member", args=[newer.pk])))
    assert (
        "该记录已并入其他会员" in absorbed_page and reverse("dash-member", args=[member.pk]) in absorbed_page
    )
    body = text(client.get(reverse("dash-merges")))
    assert "张三小号" in body and "同一手机号" in body and "137****0000" in body and "13799990000" not in body
    assert "撤销合并" in body and "hx-confirm" in body

    undo = reverse("dash-merge-undo", args=[record.pk])
    response = client.post(undo, **HX)
    assert response.status_code == 200 and "已撤销" in text(response) and "<tr" in text(response)
    assert fresh(newer).status == Member.Status.ACTIVE and fresh(newer).points_balance == 40
    with brand_scope(brand):
        assert MergeRecord.objects.get(pk=record.pk).undone_at is not None

    twice = client.post(undo, **HX)
    assert twice.status_code == 400 and "已被撤销" in text(twice)
    login_as(client, store_manager)
    assert client.get(reverse("dash-merges")).status_code == 403
    assert client.post(undo).status_code == 403
    login_as(client, other_admin)
    assert client.post(undo).status_code == 404


# --- dashboard: import ---


def test_import_a_small_csv_with_a_bad_row_then_download_the_error_report(
    client, brand, brand_admin, member, django_capture_on_commit_callbacks
):
    login_as(client, brand_admin)
    page = text(client.get(reverse("dash-member-import")))
    assert all(c in page for c in jobs.IMPORT_COLUMNS) and "下载模板" in page
    template = client.get(reverse("dash-member-import-template"))
    header = template.content.decode("utf-8-sig").splitlines()[0]
    assert header.split(",") == jobs.IMPORT_COLUMNS

    upload = SimpleUploadedFile(
        "members.csv",
        "phone,name,tags,consent\n13700000001,新会员,护肤,yes\n12345,坏号码,,yes\n13711112222,张三,,no\n".encode(),
        content_type="text/csv",
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("dash-member-import"), {"file": upload})
    assert response.status_code == 302
    job_id = int(response["Location"].rstrip("/").split("/")[-1])
    body = text(client.get(response["Location"]))
    assert "已完成" in body and "下载错误报告" in body
    with brand_scope(brand):
        job = MemberJob.objects.get(pk=job_id)
    assert (job.created_count, job.matched_count, job.error_count) == (1, 1, 1)
    assert member_count(brand) == 2

    report = client.get(reverse("dash-member-job-file", args=[job_id]))
    rows = list(csv.reader(io.StringIO(b"".join(report.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:2] == ["line", "error"] and rows[1][0] == "3" and "12345" in rows[1]
    assert report["Content-Disposition"] == f'attachment; filename="member-import-{job_id}-errors.csv"'


def test_import_refuses_bad_files_and_non_admins(client, brand, brand_admin, store_manager):
    login_as(client, brand_admin)
    no_ids = SimpleUploadedFile("x.csv", b"name,tags\nfoo,bar\n", content_type="text/csv")
    response = client.post(reverse("dash-member-import"), {"file": no_ids})
    assert response.status_code == 400 and "第一行须为列名" in text(response)
    assert client.post(reverse("dash-member-import"), {}).status_code == 400
    with brand_scope(brand):
        assert not MemberJob.objects.exists()
    login_as(client, store_manager)
    page = client.get(reverse("dash-member-import"))
    assert page.status_code == 200 and 'type="file"' not in text(page)
    ok = SimpleUploadedFile("x.csv", b"phone\n13700000001\n", content_type="text/csv")
    assert client.post(reverse("dash-member-import"), {"file": ok}).status_code == 403
    assert client.get(reverse("dash-member-import-template")).status_code == 403


def test_job_progress_partial_polls_until_done(client, brand, brand_admin):
    from django.core.cache import cache

    with brand_scope(brand):
        job = MemberJob.objects.create(
            brand=brand,
            kind=MemberJob.Kind.IMPORT,
            status=MemberJob.Status.RUNNING,
            created_by=brand_admin.user,
        )
    cache.set(jobs.progress_key(job.pk), {"processed": 250, "total": 1000, "phase": "writing"}, 60)
    login_as(client, brand_admin)
    url = reverse("dash-member-job-progress", args=[job.pk])
    body = text(client.get(url, **HX))
    assert 'hx-trigger="every 1s"' in body and 'aria-valuenow="25"' in body and "250 / 1000 行" in body
    assert "<html" not in body
    with brand_scope(brand):
        MemberJob.objects.filter(pk=job.pk).update(status=MemberJob.Status.DONE, processed=1000, total=1000)
    body = text(client.get(url, **HX))
    assert 'hx-trigger="every 1s"' not in body and 'aria-valuenow="100"' in body
    assert client.get(reverse("dash-member-job-file", args=[job.pk])).status_code == 404  # no file


# --- dashboard: hand-over ---


def test_handover_moves_all_or_ticked_members(client, brand, brand_admin, guide, store, member):
    leaving = StaffFactory(
        brand=brand, stores=[store], name="离职导购", status=Staff.Status.LEFT, left_on="2026-01-01"
    )
    a = MemberFactory(brand=brand, name="会员甲", phone="13700000011")
    b = MemberFactory(brand=brand, name="会员乙", phone="13700000012")
    with brand_scope(brand):
        Member.objects.filter(pk__in=[a.pk, b.pk, member.pk]).update(guide=leaving)
        for m in (a, b, member):
            GuideBinding.objects.create(brand=brand, member_id=m.pk, guide=leaving, start_reason="join")
    login_as(client, brand_admin)
    page = text(client.get(reverse("dash-handover")))
    assert "离职导购（已离职）" in page

    partial = client.get(reverse("dash-handover-members"), {"from_guide": leaving.pk}, **HX)
    assert partial.status_code == 200 and "会员甲" in text(partial) and "会员乙" in text(partial)

    url = reverse("dash-handover")
    response = client.post(
        url,
        {"from_guide": leaving.pk, "to_guide": guide.pk, "scope": "selected", "members": [a.pk]},
        follow=True,
    )
    assert f"已将 1 位会员从离职导购移交给{guide.name}" in text(response)
    assert fresh(a).guide_id == guide.pk and fresh(b).guide_id == leaving.pk

    response = client.post(url, {"from_guide": leaving.pk, "to_guide": guide.pk, "scope": "all"}, follow=True)
    assert "已将 2 位会员" in text(response)
    assert fresh(b).guide_id == guide.pk and fresh(member).guide_id == guide.pk
    with brand_scope(brand):
        assert GuideBinding.objects.filter(member=b, start_reason="handover", ended_at__isnull=True).exists()


def test_handover_bad_input_and_roles(client, brand, brand_admin, guide, store, member, other_brand):
    bind(brand, member, guide)
    other = StaffFactory(brand=brand, stores=[store])
    foreign = StaffFactory(brand=other_brand)
    login_as(client, brand_admin)
    url = reverse("dash-handover")
    for data in (
        {"from_guide": guide.pk, "to_guide": guide.pk, "scope": "all"},
        {"from_guide": foreign.pk, "to_guide": other.pk, "scope": "all"},
        {"from_guide": guide.pk, "to_guide": foreign.pk, "scope": "all"},
        {"from_guide": guide.pk, "to_guide": other.pk, "scope": "selected"},
    ):
        assert client.post(url, data).status_code == 400, data
    assert fresh(member).guide_id == guide.pk
    assert client.get(reverse("dash-handover-members"), {"from_guide": foreign.pk}).status_code == 404
    login_as(client, guide)
    assert client.post(url, {"from_guide": guide.pk, "to_guide": other.pk, "scope": "all"}).status_code == 403


# --- dashboard: programme settings ---


def test_programme_settings(client, brand, brand_admin, store_manager):
    login_as(client, brand_admin)
    url = reverse("dash-program")
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "points_per_yuan": "2",
            "points_expiry": "never",
            "binding_policy": "latest_guide",
            "binding_ttl_days": "90",
        },
        follow=True,
    )
    assert "会员设置已保存" in text(response)
    with brand_scope(brand):
        p = MembershipProgram.objects.get()
    assert (p.points_per_yuan, p.points_expiry, p.binding_policy, p.binding_ttl_days) == (
        2,
        "never",
        "latest_guide",
        90,
    )

    bad = client.post(url, {"points_per_yuan": "-1", "points_expiry": "never", "binding_policy": "nope"})
    assert bad.status_code == 400
    with brand_scope(brand):
        assert MembershipProgram.objects.get().points_per_yuan == 2
    login_as(client, store_manager)
    assert client.get(url).status_code == 403


def test_tiers_are_entered_in_yuan_and_stored_in_fen(client, brand, brand_admin, other_brand, other_admin):
    login_as(client, brand_admin)
    response = client.post(
        reverse("dash-tier-new"), {"code": "GOLD", "name": "金卡", "min_spend_yuan": "1999.50"}, follow=True
    )
    assert "等级已保存" in text(response) and "¥1,999.50" in text(response)
    with brand_scope(brand):
        tier = Tier.objects.get(code="GOLD")
    assert tier.min_spend_fen == 199950

    clash = client.post(
        reverse("dash-tier-new"), {"code": "PLAT", "name": "白金", "min_spend_yuan": "1999.5"}
    )
    assert clash.status_code == 400 and "已有等级使用相同的消费门槛" in text(clash)
    for value in ("12.345", "-1", "abc"):
        assert (
            client.post(
                reverse("dash-tier-new"), {"code": "X", "name": "X", "min_spend_yuan": value}
            ).status_code
            == 400
        )
    with brand_scope(brand):
        assert Tier.objects.count() == 1

    edit = reverse("dash-tier", args=[tier.pk])
    assert 'value="1999.50"' in text(client.get(edit))
    client.post(edit, {"code": "GOLD", "name": "金卡会员", "min_spend_yuan": "2000"})
    with brand_scope(brand):
        assert Tier.objects.get(pk=tier.pk).min_spend_fen == 200000
    foreign = services.tier_save(
        brand=other_brand, manager=other_admin, actor=SYS, data={"code": "B", "name": "B", "min_spend_fen": 0}
    )
    assert client.get(reverse("dash-tier", args=[foreign.pk])).status_code == 404


def test_tags_with_a_rule_tag_matching_members(client, brand, brand_admin, member, other_brand, other_admin):
    services.points_earn(brand=brand, member=member, points=10, source="order:big", spend_fen=600000)
    login_as(client, brand_admin)
    url = reverse("dash-tag-new")
    response = client.post(
        url,
        {
            "name": "高价值",
            "group": "value",
            "rule_field": "qualifying_spend_fen",
            "rule_op": "gte",
            "rule_value": "5000",
        },
        follow=True,
    )
    assert "标签“高价值”已创建" in text(response) and "¥5,000.00" in text(response)
    with brand_scope(brand):
        tag = Tag.objects.get(name="高价值")
        assert TagRule.objects.get(tag=tag).value == 500000
        assert MemberTag.objects.filter(member=member, tag=tag, source="rule").exists()

    assert client.post(url, {"name": "高价值", "group": "value"}).status_code == 400  # duplicate
    no_value = client.post(
        url, {"name": "沉睡", "group": "other", "rule_field": "days_since_purchase", "rule_op": "gte"}
    )
    assert no_value.status_code == 400
    assert (
        client.post(
            url, {"name": "半天", "group": "other", "rule_field": "days_since_purchase", "rule_value": "1.5"}
        ).status_code
        == 400
    )
    assert client.post(url, {"name": "x", "group": "nope"}).status_code == 400
    with brand_scope(brand):
        assert Tag.objects.count() == 1

    rule_url = reverse("dash-tag-rule", args=[tag.pk])
    assert 'value="5000.00"' in text(client.get(rule_url))
    client.post(rule_url, {"rule_field": "points_balance", "rule_op": "gte", "rule_value": "100"})
    with brand_scope(brand):
        assert (TagRule.objects.get(tag=tag).field, TagRule.objects.get(tag=tag).value) == (
            "points_balance",
            100,
        )
        assert not MemberTag.objects.filter(member=member, tag=tag).exists()  # 10 points < 100
    foreign = make_tag(other_brand, other_admin, "别家")
    assert client.get(reverse("dash-tag-rule", args=[foreign.pk])).status_code == 404


# --- roles and navigation ---


ADMIN_ONLY = ["dash-merges", "dash-program", "dash-tier-new", "dash-tag-new", "dash-member-import-template"]
MANAGER_PAGES = ["dash-members", "dash-member-import", "dash-handover"]
STAFF_PAGES = ["members-tab", "m-member-scan", "m-join-qr"]


@pytest.mark.parametrize("name", ADMIN_ONLY + MANAGER_PAGES + STAFF_PAGES)
def test_staff_pages_need_a_login(client, name):
    url = reverse(name)
    assert client.get(url)["Location"] == f"/login/?next={url}"


@pytest.mark.parametrize("name", ADMIN_ONLY)
def test_admin_only_pages(client, store_manager, brand_admin, name):
    login_as(client, store_manager)
    assert client.get(reverse(name)).status_code == 403
    login_as(client, brand_admin)
    assert client.get(reverse(name)).status_code == 200


@pytest.mark.parametrize("name", MANAGER_PAGES)
def test_manager_pages(client, guide, store_manager, name):
    login_as(client, guide)
    assert client.get(reverse(name)).status_code == 403
    login_as(client, store_manager)
    assert client.get(reverse(name)).status_code == 200


def test_dashboard_nav_has_members_and_settings(client, brand_admin, store_manager):
    login_as(client, brand_admin)
    body = text(client.get(reverse("dash-members")))
    assert 'href="/dashboard/members/" class="active" aria-current="page"' in body
    assert "<span>会员</span>" in body and "<span>会员设置</span>" in body
    login_as(client, store_manager)
    body = text(client.get(reverse("dash-members")))
    assert "<span>会员</span>" in body and "<span>会员设置</span>" not in body and "合并记录" not in body


def _queries(client, url) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize(("viewer", "name"), [("guide", "members-tab"), ("brand_admin", "dash-members")])
def test_member_lists_run_a_fixed_number_of_queries(client, brand, brand_admin, guide, viewer, name, request):
    vip = make_tag(brand, brand_admin, "高价值")

    def add(n, start):
        for i in range(start, start + n):
            m = MemberFactory(brand=brand, phone=f"1370000{i:04d}")
            bind(brand, m, guide)
            services.member_tags_change(brand=brand, staff=brand_admin, actor=SYS, member=m, add=[vip.pk])

    login_as(client, request.getfixturevalue(viewer))
    add(3, 0)
    few = _queries(client, reverse(name))
    add(20, 100)
    assert _queries(client, reverse(name)) == few
    assert few <= 20
