"""Demo commission for `seed_demo`: rules, members recruited by each guide, orders in every channel
over the last two months (some refunded), attributed; last month settled and paid into the wallets,
this month open. Idempotent: a brand with commission rules is left alone. Runs in the brand's scope
(not under the seed's RLS bypass), through the services."""

from __future__ import annotations

import datetime
import hashlib
import random

from django.core.exceptions import ValidationError
from django.utils import timezone

from cloudstore.models import Category, Order, Sku
from cloudstore.services import external_orders, refunds
from guides.models import CommissionRule
from guides.services import attribution, rules, settlement
from members import services as member_services
from retail.events import Actor
from retail.models import Brand, Staff, StaffStore, Store
from retail.tenancy import brand_scope

NAMES = ["李娜", "王丽", "张敏", "刘洋", "陈静", "杨帆", "赵雪", "黄蕾", "周婷", "吴倩", "徐佳", "孙悦"]


def seed_commission(brand: Brand) -> None:
    with brand_scope(brand):
        if CommissionRule.objects.exists():
            return
        staff = list(Staff.objects.filter(status=Staff.Status.ACTIVE).order_by("pk"))
        categories = list(Category.objects.order_by("sort", "pk"))
        skus = list(Sku.objects.select_related("product").order_by("pk"))
        stores = list(Store.objects.order_by("pk"))
        store_of = dict(StaffStore.objects.order_by("store_id").values_list("staff_id", "store_id"))
    admin = next((s for s in staff if s.role == Staff.Role.BRAND_ADMIN), None)
    guides = [s for s in staff if s.role in (Staff.Role.GUIDE, Staff.Role.STORE_MANAGER)]
    if admin is None or not guides or not skus:
        return
    system = Actor.system()
    rng = random.Random(brand.slug)
    now = timezone.now()
    start = now - datetime.timedelta(days=75)
    rules.commission_rule_create(
        brand=brand,
        staff=admin,
        actor=system,
        data={"name": "全场 3%", "rate_bp": 300, "effective_from": start},
    )
    if categories:
        rules.commission_rule_create(
            brand=brand,
            staff=admin,
            actor=system,
            data={
                "name": f"{categories[0].name} 6%",
                "rate_bp": 600,
                "category": categories[0].pk,
                "effective_from": start,
            },
        )
    rules.commission_rule_create(
        brand=brand,
        staff=admin,
        actor=system,
        data={
            "name": "云店推广 8%（单件封顶 ¥30）",
            "rate_bp": 800,
            "channel": Order.Channel.CLOUD_STORE,
            "cap_fen": 3000,
            "effective_from": start,
        },
    )
    rules.commission_rule_create(
        brand=brand,
        staff=admin,
        actor=system,
        data={
            "name": f"{skus[-1].product.name} 每件 ¥5",
            "kind": "fixed",
            "fixed_fen": 500,
            "sku": skus[-1].pk,
            "effective_from": start,
        },
    )

    phone = 18800000000 + brand.pk * 100_000
    made: list[Order] = []
    for gi, guide in enumerate(guides):
        home = next((s for s in stores if s.pk == store_of.get(guide.pk)), stores[0])
        for mi in range(5 if guide.role == Staff.Role.GUIDE else 2):
            phone += 1
            member_services.member_join(
                brand=brand,
                phone=str(phone),
                guide=guide,
                consent=True,
                name=NAMES[(gi * 5 + mi) % len(NAMES)],
            )
            for oi in range(rng.randint(1, 3)):
                at = now - datetime.timedelta(days=rng.randint(1, 60), hours=rng.randint(0, 12))
                channel = rng.choice([Order.Channel.FLAGSHIP, Order.Channel.POS, Order.Channel.POS])
                picked = rng.sample(skus, k=min(len(skus), rng.randint(1, 2)))
                lines = [
                    {"sku": s.code, "quantity": rng.randint(1, 2), "unit_price_fen": s.list_price_fen}
                    for s in picked
                ]
                total = sum(ln["quantity"] * ln["unit_price_fen"] for ln in lines)
                ext = f"DEMO-{brand.slug}-{guide.pk}-{mi}-{oi}"
                data = {
                    "external_id": ext,
                    "member": {"kind": "phone", "value": str(phone)},
                    "lines": lines,
                    "status": "paid",
                    "occurred_at": at,
                    "payments": [
                        {
                            "method": "alipay" if channel == "flagship" else "card",
                            "amount_fen": total,
                            "reference": ext,
                        }
                    ],
                }
                if channel == Order.Channel.POS:
                    data["store"] = home.code
                    if rng.random() < 0.3:
                        data["served_by"] = guide.pk
                order, _created = external_orders.order_external_create(
                    brand=brand,
                    staff=admin,
                    actor=system,
                    channel=channel,
                    data=data,
                    fingerprint=hashlib.sha256(ext.encode()).hexdigest(),
                )
                made.append(order)
    attribution.attribute_pending(brand=brand)
    # a refund after the fact, clawed back
    if made:
        order = made[1] if len(made) > 1 else made[0]
        refunds.refund_create(
            brand=brand,
            staff=admin,
            actor=system,
            order=order,
            key=f"demo-refund-{order.pk}",
            fingerprint="demo",
            amount_fen=order.paid_fen // 2,
            restock=False,
            reason="顾客退货",
        )
        attribution.attribution_refund_sync(brand=brand, order_id=order.pk)
    # Last month is settled and paid; this month's commission is still open.
    s, e, label = settlement.last_complete_period(brand=brand, now=now)
    period = settlement.period_close(brand=brand, start=s, end=e, label=label, now=now)
    try:
        period = settlement.period_approve(brand=brand, staff=admin, actor=system, period=period, key="demo")
        settlement.period_pay(brand=brand, period=period)
    except ValidationError:  # a demo pool too small leaves the period in review, which is fine
        pass
