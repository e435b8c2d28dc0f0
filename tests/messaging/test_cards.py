"""Product, coupon and order cards: what they carry, the guide's share attribution, and refusals of
anything not hers to send."""

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from cloudstore.models import ShareLink, Touch
from guides.messaging import cards, conversations, sending
from guides.messaging.models import Message
from retail.tenancy import brand_scope
from tests.factories import (
    CampaignFactory,
    InventoryFactory,
    MemberFactory,
    ProductFactory,
    SkuFactory,
    StaffFactory,
    StoreFactory,
)
from tests.helpers.commission import cloud_order
from tests.helpers.shop import as_shopper

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(brand, guide):
    return MemberFactory(brand=brand, guide=guide, name="李娜")


@pytest.fixture
def conv(brand, member):
    return conversations.conversation_for_member(brand=brand, member=member)


@pytest.fixture
def serum(brand, store):
    product = ProductFactory(brand=brand, name="玻尿酸精华液")
    sku = SkuFactory(brand=brand, product=product, list_price_fen=29900)
    InventoryFactory(brand=brand, store=store, sku=sku, on_hand=10)
    product.sku = sku
    return product


def _send(brand, guide, conv, kind, target):
    return sending.send_as_guide(
        brand=brand, staff=guide, conversation_id=conv.pk, kind=kind, target_id=target
    ).message


def test_a_product_card_carries_the_guides_share_link_and_opening_it_records_a_touch(
    brand, store, guide, member, conv, serum
):
    msg = _send(brand, guide, conv, Message.Kind.PRODUCT, serum.pk)
    data = msg.data
    assert (data["product"], data["name"], data["price_fen"], data["price"]) == (
        serum.pk,
        "玻尿酸精华液",
        29900,
        "¥299.00",
    )
    with brand_scope(brand):
        link = ShareLink.objects.get(code=data["code"])
    assert (link.guide_id, link.store_id, link.product_id) == (guide.pk, store.pk, serum.pk)
    assert data["url"] == f"/g/{brand.slug}/{link.code}/"

    shopper = as_shopper(Client(), brand, member)
    resp = shopper.get(data["url"])
    assert resp.status_code == 302 and f"/p/{serum.pk}/" in resp["Location"]
    with brand_scope(brand):
        touch = Touch.objects.get()
    assert (touch.guide_id, touch.member_id, touch.link_id) == (guide.pk, member.pk, link.pk)
    # The same card again reuses her link.
    again = _send(brand, guide, conv, Message.Kind.PRODUCT, serum.pk)
    assert again.data["code"] == data["code"]


def test_a_coupon_card_links_to_the_campaign_through_her_share_link(brand, store, guide, conv):
    campaign = CampaignFactory(brand=brand, name="满100减20", amount_off_fen=2000, threshold_fen=10000)
    msg = _send(brand, guide, conv, Message.Kind.COUPON, campaign.pk)
    assert msg.data["campaign"] == campaign.pk and msg.data["name"] == "满100减20"
    assert "¥20.00" in msg.data["summary"] and "¥100.00" in msg.data["summary"]
    with brand_scope(brand):
        link = ShareLink.objects.get(code=msg.data["code"])
    assert (link.kind, link.campaign_id, link.guide_id) == ("coupon", campaign.pk, guide.pk)
    resp = Client().get(msg.data["url"])
    assert resp.status_code == 302 and f"/coupons/{campaign.pk}/" in resp["Location"]


def test_an_order_card_shows_one_of_this_members_orders(brand, store, guide, member, conv, serum):
    order = cloud_order(brand, store, member, serum.sku)
    msg = _send(brand, guide, conv, Message.Kind.ORDER, order.pk)
    assert msg.data["number"] == order.number and msg.data["status"] == "paid"
    assert msg.data["total"] == "¥299.00"
    assert msg.data["url"] == f"/c/{brand.slug}/orders/{order.number}/"


def test_cards_of_other_brands_members_or_stores_are_refused(
    brand, other_brand, store, guide, member, conv, serum
):
    other_member = MemberFactory(brand=brand, guide=guide)
    their_order = cloud_order(brand, store, other_member, serum.sku)
    b_store = StoreFactory(brand=other_brand)
    b_product = ProductFactory(brand=other_brand)
    InventoryFactory(brand=other_brand, store=b_store, sku=SkuFactory(brand=other_brand, product=b_product))
    b_campaign = CampaignFactory(brand=other_brand)
    elsewhere = StoreFactory(brand=brand)
    not_here = ProductFactory(brand=brand)
    InventoryFactory(brand=brand, store=elsewhere, sku=SkuFactory(brand=brand, product=not_here))
    no_guides = CampaignFactory(brand=brand, guides_may_issue=False)
    refused = [
        (Message.Kind.PRODUCT, b_product.pk),
        (Message.Kind.PRODUCT, not_here.pk),
        (Message.Kind.PRODUCT, 10**12),
        (Message.Kind.COUPON, b_campaign.pk),
        (Message.Kind.COUPON, no_guides.pk),
        (Message.Kind.ORDER, their_order.pk),
        (Message.Kind.ORDER, None),
        (Message.Kind.ORDER, "1"),
        (Message.Kind.ORDER, True),
    ]
    for kind, target in refused:
        with pytest.raises(ValidationError):
            _send(brand, guide, conv, kind, target)
    with brand_scope(brand):
        assert not Message.objects.exists()
        assert not ShareLink.objects.filter(product=not_here).exists()


def test_a_guide_without_a_store_cannot_share(brand, conv, member, serum):
    storeless = StaffFactory(brand=brand, stores=[])
    from members.models import Member

    with brand_scope(brand):
        Member.objects.filter(pk=member.pk).update(guide=storeless)
    with pytest.raises(ValidationError):
        _send(brand, storeless, conv, Message.Kind.PRODUCT, serum.pk)


def test_build_refuses_another_brands_conversation(brand, other_brand, guide, serum):
    b_conv = conversations.conversation_for_member(brand=other_brand, member=MemberFactory(brand=other_brand))
    with pytest.raises(ValidationError):
        cards.build(brand=brand, staff=guide, conversation=b_conv, kind="product", target_id=serum.pk)
