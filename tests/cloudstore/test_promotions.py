"""Campaigns, coupons (limits, validity, thresholds, rounding) and guides' share links."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone, translation

from cloudstore.models import Campaign, Coupon, ShareLink, Touch
from cloudstore.services import checkout, promotions
from members import services as member_services
from retail.events import Actor
from retail.tenancy import brand_scope
from tests.factories import CampaignFactory, MemberFactory, StaffFactory
from tests.helpers.tenancy import refresh


@pytest.fixture(autouse=True)
def _english():
    """Some tests read the refusal's wording; the UI default is Chinese."""
    with translation.override("en"):
        yield


def issue(brand, campaign, member, by=None):
    return promotions.coupon_issue(brand=brand, campaign=campaign, member=member, issued_by=by, actor=Actor())


def test_campaign_rules(brand, brand_admin, store_manager):
    now = timezone.now()
    base = {
        "name": "双十一",
        "kind": "percent_off",
        "percent_off": 20,
        "max_discount_fen": 5000,
        "starts_at": now,
        "ends_at": now + datetime.timedelta(days=3),
    }
    c = promotions.campaign_save(brand=brand, staff=brand_admin, actor=Actor(), data=base)
    assert c.discount_for(10001) == 2000  # 20% of 100.01 rounds down to the fen
    assert c.discount_for(100000) == 5000  # capped
    with pytest.raises(ValidationError):
        promotions.campaign_save(
            brand=brand, staff=brand_admin, actor=Actor(), data={**base, "percent_off": 100}
        )
    with pytest.raises(ValidationError):
        promotions.campaign_save(brand=brand, staff=brand_admin, actor=Actor(), data={**base, "ends_at": now})
    with pytest.raises(PermissionDenied):
        promotions.campaign_save(brand=brand, staff=store_manager, actor=Actor(), data=base)


def test_amount_off_never_exceeds_the_subtotal(brand):
    c = CampaignFactory(brand=brand, amount_off_fen=5000, threshold_fen=0)
    assert c.discount_for(3000) == 3000 and c.discount_for(0) == 0


def test_per_member_and_total_limits(brand, member):
    c = CampaignFactory(brand=brand, per_member_limit=2, total_limit=3)
    issue(brand, c, member)
    issue(brand, c, member)
    with pytest.raises(ValidationError):
        issue(brand, c, member)
    issue(brand, c, MemberFactory(brand=brand))
    with pytest.raises(ValidationError):
        issue(brand, c, MemberFactory(brand=brand))
    assert refresh(c).issued_count == 3


def test_guides_may_only_issue_allowed_campaigns(brand, member, guide):
    c = CampaignFactory(brand=brand, guides_may_issue=False)
    with pytest.raises(ValidationError):
        issue(brand, c, member, by=guide)
    ok = CampaignFactory(brand=brand)
    assert issue(brand, ok, member, by=guide).issued_by_id == guide.pk


def test_coupon_checks(brand, member):
    c = CampaignFactory(brand=brand, threshold_fen=10000)
    coupon = issue(brand, c, member)
    other = MemberFactory(brand=brand)
    with pytest.raises(ValidationError, match="at least"):
        promotions.coupon_check(coupon, member=member, subtotal_fen=9999)
    with pytest.raises(ValidationError, match="another member"):
        promotions.coupon_check(coupon, member=other, subtotal_fen=20000)
    assert promotions.coupon_check(coupon, member=member, subtotal_fen=10000) == 2000
    with pytest.raises(ValidationError, match="expired"):
        promotions.coupon_check(coupon, member=member, subtotal_fen=20000, now=c.ends_at)
    with pytest.raises(ValidationError, match="Unknown"):
        promotions.coupon_check(None, member=member, subtotal_fen=20000)


def test_other_brands_coupon_is_unknown(brand, other_brand):
    foreign_member = MemberFactory(brand=other_brand)
    coupon = issue(other_brand, CampaignFactory(brand=other_brand), foreign_member)
    assert promotions.coupon_find(brand=brand, code=coupon.code) is None


def test_coupon_used_once_at_checkout(brand, store, stock, sku, member):
    coupon = issue(brand, CampaignFactory(brand=brand), member)
    checkout.checkout(
        brand=brand,
        store=store,
        member=member,
        items=[(sku.pk, 1)],
        fulfilment="pickup",
        checkout_key="a",
        coupon_code=coupon.code,
    )
    with pytest.raises(ValidationError, match="used"):
        checkout.checkout(
            brand=brand,
            store=store,
            member=member,
            items=[(sku.pk, 1)],
            fulfilment="pickup",
            checkout_key="b",
            coupon_code=coupon.code,
        )


def test_pos_redeem_replays_by_reference(brand, store_manager, member):
    coupon = issue(brand, CampaignFactory(brand=brand), member)
    a = promotions.coupon_redeem_external(
        brand=brand,
        staff=store_manager,
        actor=Actor(),
        code=coupon.code,
        member=member,
        subtotal_fen=20000,
        reference="POS-1",
    )
    b = promotions.coupon_redeem_external(
        brand=brand,
        staff=store_manager,
        actor=Actor(),
        code=coupon.code,
        member=member,
        subtotal_fen=20000,
        reference="POS-1",
    )
    assert (a[1], a[2], b[2]) == (2000, False, True)
    with pytest.raises(ValidationError):
        promotions.coupon_redeem_external(
            brand=brand,
            staff=store_manager,
            actor=Actor(),
            code=coupon.code,
            member=member,
            subtotal_fen=20000,
            reference="POS-2",
        )
    assert refresh(coupon).status == Coupon.Status.USED


def test_void_only_unused(brand, brand_admin, member):
    coupon = issue(brand, CampaignFactory(brand=brand), member)
    promotions.coupon_void(brand=brand, staff=brand_admin, actor=Actor(), coupon=coupon)
    with pytest.raises(ValidationError):
        promotions.coupon_void(brand=brand, staff=brand_admin, actor=Actor(), coupon=coupon)
    # A voided coupon frees the member's quota.
    assert issue(brand, coupon.campaign, member).pk != coupon.pk


def test_share_link_is_reused_per_target(brand, guide, store, product):
    a = promotions.share_link_get(brand=brand, guide=guide, kind="product", store=store, product=product)
    b = promotions.share_link_get(brand=brand, guide=guide, kind="product", store=store, product=product)
    c = promotions.share_link_get(brand=brand, guide=guide, kind="store", store=store, product=product)
    assert a.pk == b.pk != c.pk and c.product_id is None


def test_share_link_of_other_brand_refused(brand, guide, other_store, product):
    with pytest.raises(ValidationError):
        promotions.share_link_get(brand=brand, guide=guide, kind="store", store=other_store)


def test_opening_a_link_records_touches_and_respects_the_exclusive_guide(brand, guide, store, product):
    other_guide = StaffFactory(brand=brand, role="guide", stores=[store])
    link = promotions.share_link_get(brand=brand, guide=guide, kind="product", store=store, product=product)
    joined = member_services.member_join(brand=brand, phone="13900001111", guide=other_guide, consent=True)
    member = joined.member
    _link, touch = promotions.share_link_open(
        brand=brand, code=link.code.lower(), member=member, visitor="s1"
    )
    assert touch.guide_id == guide.pk and touch.exclusive_guide_id == other_guide.pk
    assert refresh(member).guide_id == other_guide.pk  # not taken over by opening a link
    _link, anon = promotions.share_link_open(brand=brand, code=link.code, member=None, visitor="s2")
    assert anon.member_id is None
    newbie = member_services.member_join(brand=brand, phone="13900002222", guide=guide, consent=True).member
    assert promotions.touches_claim(brand=brand, member=newbie, touch_ids=[anon.pk, touch.pk]) == 1
    anon = refresh(anon)
    assert anon.member_id == newbie.pk and anon.exclusive_guide_id is None
    assert refresh(link).opens == 2
    assert promotions.share_link_open(brand=brand, code="NOPE", member=None, visitor="") is None


def test_checkout_carries_attribution(brand, guide, store, stock, sku, product):
    link = promotions.share_link_get(brand=brand, guide=guide, kind="product", store=store, product=product)
    _l, touch = promotions.share_link_open(brand=brand, code=link.code, member=None, visitor="v")
    member = member_services.member_join(brand=brand, phone="13900003333", guide=guide, consent=False).member
    order = checkout.checkout(
        brand=brand,
        store=store,
        member=member,
        items=[(sku.pk, 1)],
        fulfilment="pickup",
        checkout_key="k",
        touch_ids=[touch.pk],
    )
    assert (order.exclusive_guide_id, order.share_guide_id, order.touch_id) == (guide.pk, guide.pk, touch.pk)


def test_old_touches_do_not_count(brand, guide, store, stock, sku, product, member):
    link = promotions.share_link_get(brand=brand, guide=guide, kind="store", store=store)
    _l, touch = promotions.share_link_open(brand=brand, code=link.code, member=member, visitor="v")
    with brand_scope(brand):
        Touch.objects.filter(pk=touch.pk).update(
            created_at=timezone.now() - datetime.timedelta(days=checkout.TOUCH_WINDOW_DAYS + 1)
        )
    order = checkout.checkout(
        brand=brand, store=store, member=member, items=[(sku.pk, 1)], fulfilment="pickup", checkout_key="k"
    )
    assert order.touch_id is None and order.share_guide_id is None


def test_campaign_and_link_rows_stay_in_brand(brand, other_brand):
    CampaignFactory(brand=other_brand)
    with brand_scope(brand):
        assert not Campaign.objects.exists() and not ShareLink.objects.exists()
