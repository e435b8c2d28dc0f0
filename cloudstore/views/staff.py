"""The cloud store in the staff mobile UI (/m/store/…): a guide's goods and share links, a store
manager's stock, the store's orders to ship and pickups to hand over, and the day's takings.

Every page is about one store the viewer works at (a brand admin: any store); the store id is
in the URL and looked up within the brand and the viewer's stores, so another store or another
brand's id answers 404. Views are thin: forms validate, services write, selectors read."""

from __future__ import annotations

import datetime
import zoneinfo

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cloudstore import selectors
from cloudstore.models import Order, OrderEvent, ShareLink, Sku, StockMovement
from cloudstore.selectors import OrderFilters
from cloudstore.services import inventory, order_status, promotions
from cloudstore.staff_forms import DayForm, PickupForm, StockChangeForm
from members.identities import mask_identity
from members.models import MemberIdentity
from retail import roles
from retail.events import Actor
from retail.models import Store
from retail.pages import apply_service_errors, call_service, form_status, posted, staff_required
from retail.tenancy import get_for_brand_or_404

SESSION_STORE_KEY = "cloudstore_store_id"
GOODS_PAGE_SIZE = 20
LIST_PAGE_SIZE = 30
SWITCHER_SIZE = 200
ORDER_TABS = {"ship": "fulfil", "pickup": "pickup", "all": ""}
# Pages a store switcher (or the home tab) can send to, by short name.
STORE_PAGES = {
    "hub": "m-store-hub",
    "goods": "m-store-goods",
    "stock": "m-store-stock",
    "orders": "m-store-orders",
    "pickup": "m-store-pickup",
    "takings": "m-store-takings",
}


# --- helpers --------------------------------------------------------------------------------------


def store_for(request, store_id) -> Store:
    """A store the viewer works at (a brand admin: any of the brand's), else 404; remembered for next time."""
    store = get_for_brand_or_404(
        selectors.visible_stores(brand=request.brand, viewer=request.staff), request.brand, pk=store_id
    )
    if request.session.get(SESSION_STORE_KEY) != store.pk:
        request.session[SESSION_STORE_KEY] = store.pk
    return store


def _require_manager(request, store: Store) -> None:
    if not roles.can_manage_store(request.staff, store.pk):
        raise PermissionDenied


def _ctx(request, store: Store, page_name: str, **extra) -> dict:
    return {
        "tab": "home",
        "store": store,
        "page_name": page_name,
        "stores": selectors.visible_stores(brand=request.brand, viewer=request.staff).only(
            "id", "name", "code"
        )[:SWITCHER_SIZE],
        "manages_store": roles.can_manage_store(request.staff, store.pk),
        **extra,
    }


def store_today(store: Store | None) -> datetime.date:
    zone = zoneinfo.ZoneInfo(store.timezone if store else "Asia/Shanghai")
    return timezone.now().astimezone(zone).date()


def share_url(request, link: ShareLink) -> str:
    return request.build_absolute_uri(reverse("share-open", args=[request.brand.slug, link.code]))


def status_label(value: str) -> str:
    return Order.Status(value).label if value in Order.Status.values else value


def order_timeline(order: Order) -> list[dict]:
    """The order's events for people: what happened, when, by whom (events are prefetched)."""
    rows = []
    for ev in order.events.all():
        if ev.kind == OrderEvent.Kind.STATUS:
            if ev.from_status:
                what = _("%(old)s → %(new)s") % {
                    "old": status_label(ev.from_status),
                    "new": status_label(ev.to_status),
                }
            else:
                what = _("Order placed")
        elif ev.kind == OrderEvent.Kind.PAYMENT:
            if ev.data.get("returned_fen"):
                what = _("Payment returned to the payer")
            elif ev.data.get("duplicate"):
                what = _("Payment notice (repeated)")
            elif ev.data.get("status") == "failed":
                what = _("Payment failed")
            else:
                what = _("Payment notice")
        elif ev.kind == OrderEvent.Kind.REFUND:
            what = _("Refund")
        else:
            what = ev.get_kind_display()
        rows.append(
            {
                "ev": ev,
                "what": what,
                "amount_fen": ev.data.get("amount_fen") if ev.kind == OrderEvent.Kind.REFUND else None,
                "reason": ev.data.get("reason", "") if ev.kind != OrderEvent.Kind.PAYMENT else "",
                "actor": ev.actor,
            }
        )
    return rows


def order_customer(order: Order) -> dict:
    """Who the order is for, with phone numbers masked."""
    phone = ""
    if order.member_id:
        for i in order.member.identities.all():
            if i.kind == MemberIdentity.Kind.PHONE:
                phone = mask_identity(i.kind, i.value)
                break
    return {
        "member": order.member,
        "member_phone": phone,
        "recipient": order.recipient,
        "phone": mask_identity(MemberIdentity.Kind.PHONE, order.phone) if order.phone else "",
        "address": order.address,
    }


# --- entry points ---------------------------------------------------------------------------------


@staff_required
@require_GET
def store_entry(request):
    """/m/store/: the store last worked on (or the first one), at the page asked for (``go``)."""
    stores = selectors.visible_stores(brand=request.brand, viewer=request.staff)
    wanted = request.GET.get("store") or request.session.get(SESSION_STORE_KEY)
    store = None
    if str(wanted or "").isdigit():
        store = stores.filter(pk=int(wanted)).first()
    if store is None:
        store = stores.filter(status=Store.Status.OPEN).first() or stores.first()
    if store is None:
        return render(request, "cloudstore/staff/no_store.html", {"tab": "home"})
    request.session[SESSION_STORE_KEY] = store.pk
    go = request.GET.get("go", "hub")
    if go == "shares":
        return redirect("m-store-shares")
    return redirect(STORE_PAGES.get(go, "m-store-hub"), store.pk)


@staff_required
@require_GET
def store_hub(request, store_id: int):
    """云店 for one store: what needs doing now and where to go."""
    store = store_for(request, store_id)
    brand, viewer = request.brand, request.staff
    to_ship = selectors.order_list(
        brand=brand, viewer=viewer, filters=OrderFilters(awaiting="fulfil", store=store.pk)
    )
    pickups = selectors.order_list(
        brand=brand, viewer=viewer, filters=OrderFilters(awaiting="pickup", store=store.pk)
    )
    ctx = _ctx(
        request,
        store,
        "hub",
        to_ship=to_ship.count(),
        pickups=pickups.count(),
        low=selectors.low_stock_count(brand=brand, store=store)
        if roles.can_manage_store(viewer, store.pk)
        else None,
    )
    return render(request, "cloudstore/staff/hub.html", ctx)


# --- goods and sharing ----------------------------------------------------------------------------


@staff_required
@require_GET
def goods(request, store_id: int):
    """The store's goods as shoppers see them (price at this store, units available) with share buttons."""
    store = store_for(request, store_id)
    q = request.GET.get("q", "")[:64].strip()
    page = selectors.store_window(
        brand=request.brand, store=store, page=request.GET.get("page"), per_page=GOODS_PAGE_SIZE, q=q
    )
    ids = [p.pk for p in page.object_list]
    low = set(
        selectors.store_stock(brand=request.brand, store=store, low_only=True)
        .filter(listed=True, sku__product_id__in=ids)
        .values_list("sku__product_id", flat=True)
    )
    ctx = _ctx(request, store, "goods", page=page, q=q, low=low)
    template = "cloudstore/staff/_goods_rows.html" if request.htmx else "cloudstore/staff/goods.html"
    return render(request, template, ctx)


def _share(request, store: Store, kind: str, **target):
    try:
        link = call_service(
            promotions.share_link_get,
            brand=request.brand,
            guide=request.staff,
            kind=kind,
            store=store,
            **target,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return None
    return redirect("m-store-share", link.pk)


@staff_required
@require_POST
def share_product(request, store_id: int, product_id: int):
    store = store_for(request, store_id)
    product = get_for_brand_or_404(
        selectors.store_products(brand=request.brand, store=store), request.brand, pk=product_id
    )
    return _share(request, store, ShareLink.Kind.PRODUCT, product=product) or redirect(
        "m-store-goods", store.pk
    )


@staff_required
@require_POST
def share_store(request, store_id: int):
    store = store_for(request, store_id)
    return _share(request, store, ShareLink.Kind.STORE) or redirect("m-store-goods", store.pk)


@staff_required
@require_http_methods(["GET", "POST"])
def share_coupon(request, store_id: int):
    """Choose a campaign whose coupon to share; guides see the campaigns they may issue."""
    store = store_for(request, store_id)
    campaigns = selectors.campaigns_issuable(brand=request.brand, viewer=request.staff)
    error, status = "", 200
    if request.method == "POST":
        raw = str(request.POST.get("campaign", ""))
        if not raw.isdigit():
            error, status = _("Choose a campaign."), 400
        else:
            campaign = get_for_brand_or_404(campaigns, request.brand, pk=int(raw))
            resp = _share(request, store, ShareLink.Kind.COUPON, campaign=campaign)
            if resp is not None:
                return resp
            status = 400
    ctx = _ctx(request, store, "goods", campaigns=list(campaigns[:50]), error=error)
    return render(request, "cloudstore/staff/share_coupon.html", ctx, status=status)


@staff_required
@require_GET
def share_detail(request, link_id: int):
    """One of my share links: the link, its QR code, a copy button, and how often it was opened."""
    link = get_for_brand_or_404(
        selectors.share_links(brand=request.brand, guide=request.staff), request.brand, pk=link_id
    )
    ctx = {"tab": "home", "link": link, "url": share_url(request, link), "store": link.store}
    return render(request, "cloudstore/staff/share.html", ctx)


@staff_required
@require_GET
def share_list(request):
    qs = selectors.share_links(brand=request.brand, guide=request.staff)
    page = Paginator(qs, LIST_PAGE_SIZE).get_page(request.GET.get("page"))
    store_id = request.session.get(SESSION_STORE_KEY)
    return render(
        request, "cloudstore/staff/shares.html", {"tab": "home", "page": page, "back_store": store_id}
    )


# --- stock (store managers) -----------------------------------------------------------------------


@staff_required
@require_GET
def stock(request, store_id: int):
    store = store_for(request, store_id)
    _require_manager(request, store)
    q = request.GET.get("q", "")[:64].strip()
    low_only = request.GET.get("low") == "1"
    qs = selectors.store_stock(brand=request.brand, store=store, q=q, low_only=low_only)
    page = Paginator(qs, LIST_PAGE_SIZE).get_page(request.GET.get("page"))
    ctx = _ctx(
        request,
        store,
        "stock",
        page=page,
        q=q,
        low_only=low_only,
        low_count=selectors.low_stock_count(brand=request.brand, store=store),
    )
    template = "cloudstore/staff/_stock_rows.html" if request.htmx else "cloudstore/staff/stock.html"
    return render(request, template, ctx)


@staff_required
@require_http_methods(["GET", "POST"])
def stock_item(request, store_id: int, sku_id: int):
    """One SKU's stock at the store: change it (with a reason) and see every movement."""
    store = store_for(request, store_id)
    _require_manager(request, store)
    brand = request.brand
    sku = get_for_brand_or_404(Sku.objects.for_brand(brand).select_related("product"), brand, pk=sku_id)
    row = selectors.store_stock(brand=brand, store=store).filter(sku=sku).first()
    form = StockChangeForm(posted(request), initial={"low_stock_at": row.low_stock_at if row else 5})
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            inv = call_service(
                inventory.stock_change,
                brand=brand,
                staff=request.staff,
                actor=Actor.from_request(request),
                store=store,
                sku=sku,
                kind=d["kind"],
                quantity=d["quantity"],
                reason=d["reason"],
                low_stock_at=d["low_stock_at"],
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(
                request,
                _("Stock saved: %(n)s on hand, %(a)s available.") % {"n": inv.on_hand, "a": inv.available},
            )
            return redirect("m-store-stock-item", store.pk, sku.pk)
    moves = selectors.stock_movements(brand=brand, store=store, sku=sku)[:50]
    ctx = _ctx(request, store, "stock", sku=sku, row=row, form=form, moves=moves, kinds=StockMovement.Kind)
    return render(request, "cloudstore/staff/stock_item.html", ctx, status=form_status(form))


# --- orders and pickups ---------------------------------------------------------------------------


@staff_required
@require_GET
def order_list(request, store_id: int):
    store = store_for(request, store_id)
    tab = request.GET.get("tab", "ship")
    if tab not in ORDER_TABS:
        tab = "ship"
    brand, viewer = request.brand, request.staff
    qs = selectors.order_list(
        brand=brand, viewer=viewer, filters=OrderFilters(awaiting=ORDER_TABS[tab], store=store.pk)
    ).prefetch_related("lines")
    page = Paginator(qs, LIST_PAGE_SIZE).get_page(request.GET.get("page"))
    counts = {
        key: selectors.order_list(
            brand=brand, viewer=viewer, filters=OrderFilters(awaiting=aw, store=store.pk)
        ).count()
        for key, aw in ORDER_TABS.items()
        if aw
    }
    ctx = _ctx(request, store, "orders", page=page, order_tab=tab, counts=counts)
    return render(request, "cloudstore/staff/orders.html", ctx)


def _store_order(request, store: Store, order_id: int) -> Order:
    try:
        order = selectors.order_get(brand=request.brand, viewer=request.staff, order_id=order_id)
    except Order.DoesNotExist as exc:
        raise Http404("No such order.") from exc
    if order.store_id != store.pk:
        raise Http404("Not an order of this store.")
    return order


@staff_required
@require_GET
def order_detail(request, store_id: int, order_id: int):
    store = store_for(request, store_id)
    order = _store_order(request, store, order_id)
    ctx = _ctx(
        request,
        store,
        "orders",
        order=order,
        customer=order_customer(order),
        timeline=order_timeline(order),
        can_ship=order.status == Order.Status.PAID and order.fulfilment == Order.Fulfilment.SHIP,
        can_complete=order.status in (Order.Status.FULFILLED, Order.Status.PICKED_UP),
        awaits_pickup=order.status == Order.Status.PAID and order.fulfilment == Order.Fulfilment.PICKUP,
    )
    return render(request, "cloudstore/staff/order.html", ctx)


@staff_required
@require_POST
def order_advance(request, store_id: int, order_id: int):
    """Mark shipped or completed; any staff member working at the store may."""
    store = store_for(request, store_id)
    order = _store_order(request, store, order_id)
    to = request.POST.get("to", "")
    if to not in (Order.Status.FULFILLED, Order.Status.COMPLETED):
        messages.error(request, _("Choose what happened to the order."))
        return redirect("m-store-order", store.pk, order.pk)
    try:
        call_service(
            order_status.order_advance,
            brand=request.brand,
            staff=request.staff,
            actor=Actor.from_request(request),
            order=order,
            to=to,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        if to == Order.Status.FULFILLED:
            messages.success(request, _("Order %(n)s is marked as shipped.") % {"n": order.number})
        else:
            messages.success(request, _("Order %(n)s is completed.") % {"n": order.number})
    return redirect("m-store-order", store.pk, order.pk)


@staff_required
@require_http_methods(["GET", "POST"])
def pickup(request, store_id: int):
    """Hand over a pickup order: scan the shopper's pickup QR or type its 6-digit code, check the
    order that code names (items, member, amount), then confirm the hand-over."""
    store = store_for(request, store_id)
    if not roles.works_at(request.staff, store.pk):
        raise PermissionDenied
    form = PickupForm(posted(request))
    found = None
    if request.method == "POST" and form.is_valid():
        code, order_id = form.cleaned_data["code"], form.cleaned_data["order"]
        if order_id is None:  # first step: show the order, change nothing
            found = selectors.pickup_order_get(brand=request.brand, store=store, code=code)
            if found is None:
                form.add_error("code", _("No order waiting for pickup here has this code."))
        else:
            try:
                order = call_service(
                    order_status.pickup_confirm,
                    brand=request.brand,
                    staff=request.staff,
                    actor=Actor.from_request(request),
                    store=store,
                    code=code,
                    order_id=order_id,
                )
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(
                    request, _("Pickup confirmed for order %(n)s: hand over the goods.") % {"n": order.number}
                )
                return redirect("m-store-order", store.pk, order.pk)
    if found is not None:
        ctx = _ctx(request, store, "pickup", form=form, order=found, customer=order_customer(found))
        return render(request, "cloudstore/staff/pickup_check.html", ctx)
    waiting = selectors.order_list(
        brand=request.brand, viewer=request.staff, filters=OrderFilters(awaiting="pickup", store=store.pk)
    ).count()
    ctx = _ctx(request, store, "pickup", form=form, waiting=waiting)
    return render(request, "cloudstore/staff/pickup.html", ctx, status=form_status(form))


# --- takings --------------------------------------------------------------------------------------


@staff_required
@require_GET
def takings(request, store_id: int):
    """收款: what the store took on a day, by channel, in the store's time zone."""
    store = store_for(request, store_id)
    _require_manager(request, store)
    today = store_today(store)
    form = DayForm(request.GET or None)
    day = today
    if form.is_bound and form.is_valid() and form.cleaned_data.get("day"):
        day = min(form.cleaned_data["day"], today)
    report = selectors.takings(brand=request.brand, store=store, day=day, tz=store.timezone)
    ctx = _ctx(
        request,
        store,
        "takings",
        report=report,
        day=day,
        today=today,
        prev_day=day - datetime.timedelta(days=1),
        next_day=day + datetime.timedelta(days=1) if day < today else None,
        form=form,
    )
    return render(request, "cloudstore/staff/takings.html", ctx, status=form_status(form))
