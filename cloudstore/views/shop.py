"""The shopper's cloud store (云店): store finder, a store's goods, product pages, the cart,
checkout with a phone code, the member's orders, coupons and guides' share links.

Public pages: the brand comes from the URL slug (suspended or unknown brands answer 404),
never from a staff session, so these views are ``brandless`` and open the brand's scope
themselves. The cart and the share-link touches live in the session:

* ``carts``: ``{brand_id: {"store": store_id, "items": {sku_id: qty}}}``, one cart per brand;
  adding goods of another store starts a new cart.
* ``touches``: ``{brand_id: [touch ids]}``, the last share links this browser opened, which
  attribute the order and become the member's once they log in.
"""

from __future__ import annotations

import datetime
import uuid

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Prefetch, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cloudstore import selectors
from cloudstore.forms import ShopCartForm, ShopCheckoutForm, ShopJoinForm, ShopLocationForm
from cloudstore.models import (
    Campaign,
    Order,
    OrderLine,
    Payment,
    Refund,
    ShareLink,
    Touch,
)
from cloudstore.services import cart as cart_service
from cloudstore.services import checkout as checkout_service
from cloudstore.services import order_payments, order_status, promotions
from members import otp, shopper
from members import selectors as member_selectors
from members import services as member_services
from members.models import ConsentRecord, Member
from retail.events import Actor
from retail.middleware import brandless, own_transactions
from retail.models import Brand, Staff, Store
from retail.pages import apply_service_errors, form_status, safe_next
from retail.tenancy import brand_scope, get_for_brand_or_404

CARTS_KEY = "carts"
TOUCHES_KEY = "touches"
VISITOR_KEY = "shop_visitor"
MAX_TOUCHES = 20
PRODUCTS_PER_PAGE = 24
STORES_PER_PAGE = 20
ORDERS_PER_PAGE = 10
NEAREST = 10

# --- helpers -------------------------------------------------------------------------------------


def _ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR")


def _shopper_actor(request) -> Actor:
    """The shopper acting for themselves: no staff user, even if one is logged in here."""
    return Actor(ip=_ip(request), user_agent=request.META.get("HTTP_USER_AGENT", ""))


def _int(value) -> int | None:
    value = (value or "").strip() if isinstance(value, str) else value
    return int(value) if isinstance(value, str) and value.isdigit() and len(value) < 12 else None


def _store(brand: Brand, store_code: str) -> Store:
    store = Store.objects.for_brand(brand).filter(code=store_code).first()
    if store is None:
        raise Http404("No such store.")
    return store


def _closed(request, brand: Brand, store: Store):
    """A closed store's address still answers: with 404 and a way to another store."""
    return render(request, "shop/closed.html", {"brand": brand, "closed_store": store}, status=404)


# The cart in the session ---------------------------------------------------------------------------


def _carts(request) -> dict:
    value = request.session.get(CARTS_KEY)
    return dict(value) if isinstance(value, dict) else {}


def _cart(request, brand: Brand) -> dict:
    """This brand's cart, cleaned of anything malformed: {"store": id | None, "items": {sku: qty}}."""
    return cart_service.cart_clean(_carts(request).get(str(brand.pk)))


def _cart_save(request, brand: Brand, cart: dict) -> None:
    carts = _carts(request)
    if cart["items"]:
        carts[str(brand.pk)] = {"store": cart["store"], "items": dict(cart["items"])}
    else:
        carts.pop(str(brand.pk), None)
    request.session[CARTS_KEY] = carts


def _store_items(request, brand: Brand, store: Store) -> dict[int, int]:
    """The cart's items if the cart belongs to ``store``; nothing otherwise."""
    return cart_service.store_items(_cart(request, brand), store)


def _cart_count(request, brand: Brand, store: Store | None) -> int:
    return sum(_store_items(request, brand, store).values()) if store is not None else 0


def _priced(request, brand: Brand, store: Store) -> cart_service.PricedCart:
    """The cart priced at the store; items no longer sold here leave the session's cart."""
    priced = cart_service.cart_priced(brand=brand, store=store, items=_store_items(request, brand, store))
    if priced.dropped:
        _cart_save(request, brand, {"store": store.pk, "items": priced.items})
    return priced


# Share-link touches ------------------------------------------------------------------------------


def _touch_ids(request, brand: Brand) -> list[int]:
    value = request.session.get(TOUCHES_KEY)
    ids = value.get(str(brand.pk)) if isinstance(value, dict) else None
    return [i for i in ids if isinstance(i, int)][-MAX_TOUCHES:] if isinstance(ids, list) else []


def _touch_add(request, brand: Brand, touch_id: int) -> None:
    value = request.session.get(TOUCHES_KEY)
    touches = dict(value) if isinstance(value, dict) else {}
    touches[str(brand.pk)] = [*_touch_ids(request, brand), touch_id][-MAX_TOUCHES:]
    request.session[TOUCHES_KEY] = touches


def _touch_guide(request, brand: Brand) -> Staff | None:
    """The guide of the latest share link this browser opened (within the attribution window)."""
    ids = _touch_ids(request, brand)
    if not ids:
        return None
    since = timezone.now() - datetime.timedelta(days=checkout_service.TOUCH_WINDOW_DAYS)
    touch = (
        Touch.objects.for_brand(brand)
        .filter(pk__in=ids, created_at__gte=since)
        .select_related("guide")
        .order_by("-created_at", "-id")
        .first()
    )
    return touch.guide if touch else None


# Proving the phone at checkout or when claiming a coupon ----------------------------------------


def _verify(request, brand: Brand, form: ShopJoinForm) -> Member | None:
    """Check the one-time code, then join (or recognise) the member and log them in.

    A new member joining after a guide's share link becomes that guide's member; an existing
    member keeps their exclusive guide unless the brand's rule says otherwise (member_join
    decides). The touches this browser made become the member's."""
    if not form.is_valid():
        return None
    phone = form.cleaned_data["phone"]
    try:
        otp.otp_check(brand_id=brand.pk, phone=phone, code=form.cleaned_data["code"])
        result = member_services.member_join(
            brand=brand,
            phone=phone,
            guide=_touch_guide(request, brand),
            consent=form.cleaned_data["consent"],
            source=ConsentRecord.Source.JOIN_PAGE,
            ip=_ip(request),
        )
    except otp.OtpError as exc:
        form.add_error("code", str(exc))
        return None
    except ValidationError as exc:
        apply_service_errors(form, exc)
        return None
    member = result.member
    shopper.login(request, brand, member)
    promotions.touches_claim(brand=brand, member=member, touch_ids=_touch_ids(request, brand))
    if result.created:
        messages.success(request, _("Welcome! You are now a member of %(brand)s.") % {"brand": brand.name})
    else:
        messages.success(request, _("Welcome back! You are logged in as a member."))
    return member


def _join_context(brand: Brand, form: ShopJoinForm) -> dict:
    return {
        "join_form": form,
        "code_url": reverse("shopper-login-code", args=[brand.slug]),
        "policies": member_selectors.policies_current(brand=brand),
    }


# --- store finder and store pages --------------------------------------------------------------------


@brandless
@require_GET
def stores(request, brand_slug: str):
    """Find a store: the nearest ones (the browser sends ?lat=&lng=), or open stores by name/address."""
    brand = shopper.brand_for_slug(brand_slug)
    position = ShopLocationForm(request.GET).position()
    q = (request.GET.get("q") or "").strip()[:64]
    with brand_scope(brand):
        ctx = {"brand": brand, "q": q, "position": position, "nearest": None, "page": None}
        if position is not None:
            found = selectors.stores_nearest(brand=brand, lat=position[0], lng=position[1], limit=NEAREST)
            if q:
                found = [(s, d) for s, d in found if q.lower() in f"{s.name} {s.address}".lower()]
            ctx["nearest"] = found
        else:
            qs = selectors.stores_open(brand=brand)
            if q:
                qs = qs.filter(Q(name__icontains=q) | Q(address__icontains=q) | Q(code__iexact=q))
            ctx["page"] = Paginator(qs, STORES_PER_PAGE).get_page(request.GET.get("page"))
        if request.htmx and not request.htmx.boosted:
            return render(request, "shop/_store_list.html", ctx)
        return render(request, "shop/stores.html", ctx)


@brandless
@require_GET
def store(request, brand_slug: str, store_code: str):
    """A store's cloud store: categories, search and the goods it sells, 24 a page."""
    brand = shopper.brand_for_slug(brand_slug)
    with brand_scope(brand):
        store = _store(brand, store_code)
        if store.status != Store.Status.OPEN:
            return _closed(request, brand, store)
        q = (request.GET.get("q") or "").strip()[:64]
        categories = list(selectors.store_categories(brand=brand, store=store))
        category_id = _int(request.GET.get("category"))
        if category_id not in {c.pk for c in categories}:
            category_id = None
        page = selectors.store_window(
            brand=brand,
            store=store,
            page=request.GET.get("page"),
            per_page=PRODUCTS_PER_PAGE,
            category_id=category_id,
            q=q,
        )
        return render(
            request,
            "shop/store.html",
            {
                "brand": brand,
                "store": store,
                "categories": categories,
                "category_id": category_id,
                "q": q,
                "page": page,
                "cart_count": _cart_count(request, brand, store),
            },
        )


@brandless
@require_GET
def product(request, brand_slug: str, store_code: str, product_id: int):
    """A product at a store: photos, description, its specifications with price and stock."""
    brand = shopper.brand_for_slug(brand_slug)
    with brand_scope(brand):
        store = _store(brand, store_code)
        if store.status != Store.Status.OPEN:
            return _closed(request, brand, store)
        found = selectors.store_product(brand=brand, store=store, product_id=product_id)
        if found is None:
            raise Http404("Not sold at this store.")
        item, rows = found
        chosen = next((r for r in rows if r.available > 0), rows[0])
        form = ShopCartForm(initial={"op": "add", "sku": chosen.sku_id, "qty": 1})
        return render(
            request,
            "shop/product.html",
            {
                "brand": brand,
                "store": store,
                "product": item,
                "images": list(item.images.all()),
                "rows": rows,
                "chosen": chosen,
                "sold_out": all(r.available <= 0 for r in rows),
                "form": form,
                "cart_count": _cart_count(request, brand, store),
            },
        )


# --- the cart -----------------------------------------------------------------------------------------


def _cart_context(request, brand: Brand, store: Store, **extra) -> dict:
    priced = _priced(request, brand, store)
    totals = cart_service.cart_totals(brand=brand, amounts=priced.amounts)
    cart = _cart(request, brand)
    other = None
    if cart["items"] and cart["store"] not in (None, store.pk):
        other = Store.objects.for_brand(brand).filter(pk=cart["store"]).first()
    return {
        "brand": brand,
        "store": store,
        "lines": priced.lines,
        "dropped": priced.dropped,
        "subtotal": totals.subtotal,
        "count": totals.count,
        "cart_count": totals.count,
        "other_store": other,
        "short": priced.short,
        **extra,
    }


def _apply_cart_change(request, brand: Brand, store: Store, form: ShopCartForm) -> str | None:
    """Change the session cart as the valid ``form`` asks; returns an error message or None.

    Raises 404 for a SKU that is not sold at this store (another brand's, unknown, unlisted)."""
    try:
        change = cart_service.cart_change(
            brand=brand,
            store=store,
            cart=_cart(request, brand),
            op=form.cleaned_data["op"],
            sku_id=form.cleaned_data["sku"],
            qty=form.cleaned_data.get("qty"),
        )
    except cart_service.NotInCart as exc:
        raise Http404(str(exc)) from exc
    if change.error:
        return change.error
    _cart_save(request, brand, change.cart)
    if change.replaced:
        old = change.replaced_store
        messages.info(
            request,
            _("A cart holds the goods of one store: your cart at %(old)s was replaced by this one.")
            % {"old": old.name if old else _("another store")},
        )
    return None


@brandless
@never_cache
@require_http_methods(["GET", "POST"])
def cart(request, brand_slug: str, store_code: str):
    """The cart at one store. POST op=add|set|remove, sku, qty (htmx on the cart page answers the
    cart partial; the product page's form is a normal POST back to ``next``)."""
    brand = shopper.brand_for_slug(brand_slug)
    with brand_scope(brand):
        store = _store(brand, store_code)
        if store.status != Store.Status.OPEN:
            return _closed(request, brand, store)
        cart_url = reverse("shop-cart", args=[brand.slug, store.code])
        error, status = None, 200
        if request.method == "POST":
            form = ShopCartForm(request.POST)
            if form.is_valid():
                error = _apply_cart_change(request, brand, store, form)
            else:
                error = " ".join(e for errs in form.errors.values() for e in errs)
            if error:
                status = 400
            elif not request.htmx:
                if form.cleaned_data["op"] == ShopCartForm.Op.ADD:
                    messages.success(request, _("Added to your cart."))
                return redirect(safe_next(request, cart_url))
        ctx = _cart_context(request, brand, store, error=error)
        template = "shop/_cart.html" if request.htmx else "shop/cart.html"
        return render(request, template, ctx, status=status)


# --- checkout -------------------------------------------------------------------------------------------


def _summary(
    brand: Brand, member: Member | None, priced: cart_service.PricedCart, fulfilment: str, code: str
) -> cart_service.Totals:
    """The order's totals, as placing the order computes them (a coupon that does not apply is
    shown, not counted)."""
    return cart_service.cart_totals(
        brand=brand, amounts=priced.amounts, fulfilment=fulfilment, member=member, coupon_code=code
    )


def _checkout_items(request, brand: Brand, store: Store) -> list[tuple[int, int]]:
    return sorted(_store_items(request, brand, store).items())


@own_transactions
@brandless
@never_cache
@require_http_methods(["GET", "POST"])
def checkout(request, brand_slug: str, store_code: str):
    """Check out the cart: prove the phone (log in, or join) first, then delivery or pickup,
    coupon and the summary. One checkout_key per rendered form: a double submit gives one order."""
    brand = shopper.brand_for_slug(brand_slug)
    with brand_scope(brand):
        answer = _checkout(request, brand, store_code)
    # The order is committed: the provider is asked with no transaction open and no row locked.
    return _pay(request, brand, answer) if isinstance(answer, Order) else answer


def _checkout(request, brand: Brand, store_code: str):
    """The checkout page's answer, or the order just placed (to be paid)."""
    store = _store(brand, store_code)
    if store.status != Store.Status.OPEN:
        return _closed(request, brand, store)
    member = shopper.current_member(request, brand)
    posted = request.POST if request.method == "POST" else None
    checkout_url = reverse("shop-checkout", args=[brand.slug, store.code])

    if member is None:
        join_form = ShopJoinForm(posted)
        if posted is not None and _verify(request, brand, join_form) is not None:
            return redirect(checkout_url)
        priced = _priced(request, brand, store)
        summary = _summary(brand, None, priced, Order.Fulfilment.PICKUP, "")
        return render(
            request,
            "shop/checkout.html",
            {
                "brand": brand,
                "store": store,
                "lines": priced.lines,
                "summary": summary,
                "cart_count": summary.count,
                **_join_context(brand, join_form),
            },
            status=form_status(join_form),
        )

    coupons = list(selectors.member_coupons(brand=brand, member=member))
    if request.htmx and request.method == "GET":
        # The summary follows the delivery and coupon choice.
        priced = _priced(request, brand, store)
        code = (request.GET.get("coupon_code") or "").strip().upper()[:16] or (
            request.GET.get("coupon") or ""
        )[:16]
        fulfilment = request.GET.get("fulfilment") or Order.Fulfilment.PICKUP
        return render(
            request,
            "shop/_checkout_summary.html",
            {"brand": brand, "summary": _summary(brand, member, priced, fulfilment, code)},
        )

    form = ShopCheckoutForm(
        posted,
        coupons=coupons,
        initial={
            "checkout_key": uuid.uuid4().hex,
            "recipient": member.name,
            "phone": _member_phone(member),
        },
    )
    if posted is not None and form.is_valid():
        key = form.cleaned_data["checkout_key"]
        done = Order.objects.for_brand(brand).filter(checkout_key=key).first()
        if done is not None:
            if done.member_id == member.pk:  # the same form sent twice
                return redirect("shop-order", brand.slug, done.number)
            form.add_error(None, _("Reload the page and try again."))
        else:
            placed = _place_order(request, brand, store, member, form)
            if placed is not None:
                return placed
    priced = _priced(request, brand, store)
    if priced.dropped:
        messages.warning(request, _("Some items are no longer sold here and were taken out of your cart."))
    if form.is_bound and form.is_valid():
        code, _field = form.coupon_code_value()
        fulfilment = form.cleaned_data["fulfilment"]
    elif form.is_bound:
        code = (posted.get("coupon_code") or "").strip().upper()[:16] or (posted.get("coupon") or "")[:16]
        fulfilment = posted.get("fulfilment") or Order.Fulfilment.PICKUP
    else:
        code, fulfilment = "", Order.Fulfilment.PICKUP
    errors = form.errors.as_data() if form.is_bound else {}
    codes = {e.code for errs in errors.values() for e in errs}
    summary = _summary(brand, member, priced, fulfilment, code)
    return render(
        request,
        "shop/checkout.html",
        {
            "brand": brand,
            "store": store,
            "member": member,
            "form": form,
            "lines": priced.lines,
            "coupons": coupons,
            "summary": summary,
            "cart_count": summary.count,
            "cart_problem": bool(codes & {"out_of_stock", "not_sold_here", "empty_cart", "too_many_lines"}),
        },
        status=form_status(form),
    )


def _member_phone(member: Member) -> str:
    phone = member.identities.filter(kind="phone").values_list("value", flat=True).first()
    return phone or ""


def _place_order(request, brand: Brand, store: Store, member: Member, form: ShopCheckoutForm):
    """Place the order (to be paid); None, with the errors on the form, if refused."""
    code, field = form.coupon_code_value()
    d = form.cleaned_data
    try:
        order = checkout_service.checkout(
            brand=brand,
            store=store,
            member=member,
            items=_checkout_items(request, brand, store),
            fulfilment=d["fulfilment"],
            checkout_key=d["checkout_key"],
            coupon_code=code,
            recipient=d["recipient"] if d["fulfilment"] == Order.Fulfilment.SHIP else "",
            phone=d["phone"] if d["fulfilment"] == Order.Fulfilment.SHIP else "",
            address=d["address"] if d["fulfilment"] == Order.Fulfilment.SHIP else "",
            note=d["note"],
            touch_ids=_touch_ids(request, brand),
        )
    except ValidationError as exc:
        apply_service_errors(form, exc, rename={"coupon": field})
        return None
    if order.member_id != member.pk:  # pragma: no cover - a checkout key is a fresh uuid per form
        form.add_error(None, _("Reload the page and try again."))
        return None
    _cart_save(request, brand, {"store": store.pk, "items": {}})
    return order


def _pay(request, brand: Brand, order: Order):
    """Start a payment of the order and send the shopper to the provider's page."""
    try:
        _payment, url = order_payments.payment_start(brand=brand, order=order)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("shop-order", brand.slug, order.number)
    return redirect(url)


# --- the member's orders ----------------------------------------------------------------------------------


def _login_redirect(brand: Brand, next_url: str):
    return redirect(f"{reverse('shop-login', args=[brand.slug])}?next={next_url}")


def _member_order(brand: Brand, member: Member | None, number: str) -> Order:
    """The member's own order with its lines, payments and refunds; 404 for anyone else."""
    if member is None:
        raise Http404("No such order.")
    order = (
        Order.objects.for_brand(brand)
        .filter(number=number[:24], member=member)
        .select_related("store", "coupon__campaign")
        .prefetch_related(
            Prefetch("lines", queryset=OrderLine.objects.for_brand(brand).order_by("id")),
            Prefetch("payments", queryset=Payment.objects.for_brand(brand).order_by("created_at", "id")),
            Prefetch("refunds", queryset=Refund.objects.for_brand(brand).order_by("created_at", "id")),
        )
        .first()
    )
    if order is None:
        raise Http404("No such order.")
    return order


@brandless
@never_cache
@require_GET
def order(request, brand_slug: str, number: str):
    """One of the member's orders: status, lines, amounts, payment state, pickup code and QR."""
    brand = shopper.brand_for_slug(brand_slug)
    with brand_scope(brand):
        member = shopper.current_member(request, brand)
        found = _member_order(brand, member, number)
        payments = list(found.payments.all())
        last = payments[-1] if payments else None
        now = timezone.now()
        awaiting = found.status == Order.Status.CREATED
        expired = awaiting and found.reserved_until is not None and found.reserved_until <= now
        ctx = {
            "brand": brand,
            "store": found.store,
            "order": found,
            "lines": list(found.lines.all()),
            "payments": payments,
            "last_payment": last,
            "confirming": awaiting and last is not None and last.status == Payment.Status.PENDING,
            "failed": awaiting and last is not None and last.status == Payment.Status.FAILED,
            "returned": [p for p in payments if p.status == Payment.Status.REFUNDED],
            "refunds": list(found.refunds.all()),
            "can_pay": awaiting and not expired,
            "expired": expired,
            "pickup_token": (
                order_status.pickup_token(found)
                if found.status == Order.Status.PAID and found.fulfilment == Order.Fulfilment.PICKUP
                else ""
            ),
        }
        return render(request, "shop/order.html", ctx)


@own_transactions
@brandless
@require_POST
def order_pay(request, brand_slug: str, number: str):
    """Pay (again) for an unpaid order."""
    brand = shopper.brand_for_slug(brand_slug)
    with brand_scope(brand):
        member = shopper.current_member(request, brand)
        found = _member_order(brand, member, number)
    return _pay(request, brand, found)


@brandless
@never_cache
@require_GET
def order_list(request, brand_slug: str):
    brand = shopper.brand_for_slug(brand_slug)
    with brand_scope(brand):
        member = shopper.current_member(request, brand)
        if member is None:
            return _login_redirect(brand, reverse("shop-orders", args=[brand.slug]))
        page = Paginator(selectors.member_orders(brand=brand, member=member), ORDERS_PER_PAGE).get_page(
            request.GET.get("page")
        )
        return render(request, "shop/orders.html", {"brand": brand, "member": member, "page": page})


@brandless
@never_cache
@require_http_methods(["GET", "POST"])
def login(request, brand_slug: str):
    """Log in (or join) with phone and code on the way to ``next`` (my orders, a coupon)."""
    brand = shopper.brand_for_slug(brand_slug)
    with brand_scope(brand):
        default = reverse("shop-orders", args=[brand.slug])
        next_url = safe_next(request, default)
        if shopper.current_member(request, brand) is not None and request.method == "GET":
            return redirect(next_url)
        form = ShopJoinForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and _verify(request, brand, form) is not None:
            return redirect(next_url)
        return render(
            request,
            "shop/login.html",
            {"brand": brand, "next": next_url, **_join_context(brand, form)},
            status=form_status(form),
        )


# --- coupons and share links -----------------------------------------------------------------------------


def _via_link(brand: Brand, via: str, campaign: Campaign) -> ShareLink | None:
    """The guide's coupon share link named by ``?via=``, if it is this campaign's."""
    via = (via or "").strip().upper()
    if not via or len(via) > 16:
        return None
    return (
        ShareLink.objects.for_brand(brand)
        .filter(code=via, kind=ShareLink.Kind.COUPON, campaign=campaign)
        .select_related("guide", "store")
        .first()
    )


@brandless
@never_cache
@require_http_methods(["GET", "POST"])
def coupon(request, brand_slug: str, campaign_id: int):
    """A coupon campaign, and claiming a coupon of it (with a phone code if not logged in)."""
    brand = shopper.brand_for_slug(brand_slug)
    with brand_scope(brand):
        campaign = get_for_brand_or_404(Campaign, brand, pk=campaign_id)
        via = (request.GET.get("via") or request.POST.get("via") or "")[:16]
        link = _via_link(brand, via, campaign)
        member = shopper.current_member(request, brand)
        now = timezone.now()
        running = campaign.active and campaign.starts_at <= now < campaign.ends_at
        join_form = ShopJoinForm(request.POST if request.method == "POST" and member is None else None)
        error = ""
        if request.method == "POST" and running:
            if member is None:
                member = _verify(request, brand, join_form)
            if member is not None:
                issuer = link.guide if link and link.guide.status == Staff.Status.ACTIVE else None
                try:
                    promotions.coupon_issue(
                        brand=brand,
                        campaign=campaign,
                        member=member,
                        issued_by=issuer,
                        actor=_shopper_actor(request),
                    )
                except ValidationError as exc:
                    error = " ".join(exc.messages)
                else:
                    messages.success(request, _("The coupon is yours. Use it at checkout."))
                    url = reverse("shop-coupon", args=[brand.slug, campaign.pk])
                    return redirect(f"{url}?via={link.code}" if link else url)
        elif request.method == "POST":
            error = _("This campaign has ended.")
        mine = []
        if member is not None:
            mine = list(
                campaign.coupons.filter(member=member).exclude(status="void").order_by("-issued_at", "-id")
            )
        shop_store = link.store if link and link.store.status == Store.Status.OPEN else None
        status = 400 if request.method == "POST" and (error or join_form.errors) else 200
        return render(
            request,
            "shop/coupon.html",
            {
                "brand": brand,
                "campaign": campaign,
                "link": link,
                "via": link.code if link else "",
                "member": member,
                "running": running,
                "upcoming": campaign.active and now < campaign.starts_at,
                "mine": mine,
                "can_claim_more": len(mine) < campaign.per_member_limit,
                "error": error,
                "shop_store": shop_store,
                **_join_context(brand, join_form),
            },
            status=status,
        )


@brandless
@require_GET
def share_open(request, brand_slug: str, code: str):
    """A guide's share link: record the touch, remember it in the session, show what was shared."""
    brand = shopper.brand_for_slug(brand_slug)
    with brand_scope(brand):
        # A visitor id of the browser kept in the session: the session key itself may not exist
        # yet for a first visit, and it changes when the shopper logs in.
        visitor = request.session.get(VISITOR_KEY)
        visitor = visitor if isinstance(visitor, str) and len(visitor) == 32 else uuid.uuid4().hex
        opened = promotions.share_link_open(
            brand=brand, code=code, member=shopper.current_member(request, brand), visitor=visitor
        )
        if opened is None:
            raise Http404("No such link.")
        link, touch = opened
        request.session[VISITOR_KEY] = visitor
        _touch_add(request, brand, touch.pk)
        if link.kind == ShareLink.Kind.PRODUCT and link.product_id:
            return redirect("shop-product", brand.slug, link.store.code, link.product_id)
        if link.kind == ShareLink.Kind.COUPON and link.campaign_id:
            url = reverse("shop-coupon", args=[brand.slug, link.campaign_id])
            return redirect(f"{url}?via={link.code}")
        return redirect("shop-store", brand.slug, link.store.code)
