"""The cloud store in the brand dashboard: catalogue (products, SKUs, photos, categories), store
prices and stock, coupon campaigns (brand admins), and orders with refunds and the takings report
(brand admins for the whole brand, store managers for their stores)."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cloudstore import selectors
from cloudstore.models import Campaign, Order, Product, ProductImage, Sku
from cloudstore.services import catalogue, inventory, order_status, promotions, refunds
from cloudstore.staff_forms import (
    AssortmentCategoryForm,
    AssortmentFileForm,
    CampaignForm,
    CategoryForm,
    ImageForm,
    OrderFilterForm,
    ProductForm,
    RefundForm,
    SkuForm,
    StorePriceForm,
    StoreSkuAddForm,
    TakingsFilterForm,
)
from cloudstore.views.staff import order_customer, order_timeline, store_today
from retail import roles
from retail.events import Actor
from retail.idempotency import page_key, request_fingerprint
from retail.models import Store
from retail.money import yuan, yuan_input
from retail.pages import (
    admin_required,
    apply_service_errors,
    call_service,
    form_status,
    manager_required,
    posted,
)
from retail.tenancy import get_for_brand_or_404

PAGE_SIZE = 50
TAKINGS_DEFAULT_DAYS = 7


def _actor(request) -> Actor:
    return Actor.from_request(request)


# --- catalogue: products --------------------------------------------------------------------------


@admin_required
@require_GET
def product_list(request):
    brand = request.brand
    q = request.GET.get("q", "")[:64].strip()
    status = request.GET.get("status", "")
    status = status if status in Product.Status.values else ""
    raw_cat = request.GET.get("category", "")
    category_id = int(raw_cat) if raw_cat.isdigit() else None
    qs = selectors.product_list(brand=brand, q=q, category_id=category_id, status=status).prefetch_related(
        "images"
    )
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    ctx = {
        "nav": "catalogue",
        "sub": "products",
        "page": page,
        "q": q,
        "status": status,
        "category_id": category_id,
        "categories": selectors.category_list(brand=brand),
        "statuses": Product.Status.choices,
        "filtered": bool(q or status or category_id),
    }
    template = (
        "cloudstore/dashboard/_product_rows.html" if request.htmx else "cloudstore/dashboard/products.html"
    )
    return render(request, template, ctx)


def _product(request, product_id: int) -> Product:
    product = selectors.product_detail(brand=request.brand, product_id=product_id)
    if product is None:
        raise Http404("No such product.")
    return product


def _product_page(request, product: Product, *, form=None, sku_form=None, image_form=None, status=200):
    ctx = {
        "nav": "catalogue",
        "sub": "products",
        "product": product,
        "form": form
        or ProductForm(
            categories=selectors.category_list(brand=request.brand), initial=_product_initial(product)
        ),
        "sku_form": sku_form or SkuForm(),
        "image_form": image_form or ImageForm(),
        "max_images": catalogue.MAX_IMAGES,
    }
    return render(request, "cloudstore/dashboard/product.html", ctx, status=status)


def _product_initial(product: Product) -> dict:
    return {
        "name": product.name,
        "category": product.category_id,
        "status": product.status,
        "description": product.description,
    }


@admin_required
@require_http_methods(["GET", "POST"])
def product_new(request):
    form = ProductForm(posted(request), categories=selectors.category_list(brand=request.brand))
    if request.method == "POST" and form.is_valid():
        try:
            product = call_service(
                catalogue.product_save,
                brand=request.brand,
                staff=request.staff,
                actor=_actor(request),
                data=form.data_for_service(),
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Product created. Now add its SKUs and photos."))
            return redirect("dash-cs-product", product.pk)
    return render(
        request,
        "cloudstore/dashboard/product_new.html",
        {"nav": "catalogue", "sub": "products", "form": form},
        status=form_status(form),
    )


@admin_required
@require_http_methods(["GET", "POST"])
def product_edit(request, product_id: int):
    product = _product(request, product_id)
    if request.method == "GET":
        return _product_page(request, product)
    form = ProductForm(request.POST, categories=selectors.category_list(brand=request.brand))
    if form.is_valid():
        try:
            call_service(
                catalogue.product_save,
                brand=request.brand,
                staff=request.staff,
                actor=_actor(request),
                data=form.data_for_service(),
                product=product,
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Product saved."))
            return redirect("dash-cs-product", product.pk)
    return _product_page(request, _product(request, product_id), form=form, status=400)


@admin_required
@require_http_methods(["GET", "POST"])
def sku_edit(request, product_id: int, sku_id: int | None = None):
    """Add a SKU to a product (POST from the product page) or edit one (its own page)."""
    product = _product(request, product_id)
    sku = (
        get_for_brand_or_404(Sku.objects.filter(product=product), request.brand, pk=sku_id)
        if sku_id
        else None
    )
    initial = None
    if sku is not None:
        initial = {
            "code": sku.code,
            "spec": sku.spec,
            "barcode": sku.barcode,
            "list_price": yuan_input(sku.list_price_fen),
            "active": sku.active,
        }
    form = SkuForm(posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            call_service(
                catalogue.sku_save,
                brand=request.brand,
                staff=request.staff,
                actor=_actor(request),
                product=product,
                data=form.data_for_service(),
                sku=sku,
            )
        except ValidationError as exc:
            apply_service_errors(form, exc, rename={"list_price_fen": "list_price"})
        else:
            messages.success(request, _("SKU %(code)s saved.") % {"code": form.cleaned_data["code"]})
            return redirect("dash-cs-product", product.pk)
    if sku is None:
        if request.method == "GET":
            return redirect("dash-cs-product", product.pk)
        return _product_page(request, product, sku_form=form, status=400)
    return render(
        request,
        "cloudstore/dashboard/sku.html",
        {"nav": "catalogue", "sub": "products", "product": product, "sku": sku, "form": form},
        status=form_status(form),
    )


ASSORTMENT_ERRORS_SHOWN = 200


@admin_required
@require_http_methods(["GET", "POST"])
def store_assortment(request, store_id: int):
    """Add many SKUs to a store at once: every SKU on sale, one category's, or a CSV file's rows."""
    brand = request.brand
    store = _dash_store(request, store_id)
    categories = list(selectors.category_list(brand=brand))
    action = request.POST.get("action", "") if request.method == "POST" else ""
    category_form = AssortmentCategoryForm(
        request.POST if action == "category" else None, categories=categories, prefix="c"
    )
    file_form = AssortmentFileForm(
        request.POST if action == "file" else None, request.FILES if action == "file" else None
    )
    result = None
    status = 200
    if request.method == "POST":
        kwargs = {"brand": brand, "staff": request.staff, "actor": _actor(request), "store": store}
        try:
            if action == "all":
                result = call_service(inventory.store_assortment_add, **kwargs)
            elif action == "category" and category_form.is_valid():
                result = call_service(
                    inventory.store_assortment_add,
                    category_id=category_form.cleaned_data["category"],
                    **kwargs,
                )
            elif action == "file" and file_form.is_valid():
                result = call_service(inventory.store_assortment_import, rows=file_form.rows, **kwargs)
        except ValidationError as exc:
            apply_service_errors(file_form if action == "file" else category_form, exc)
        if result is not None and not result.errors:
            messages.success(
                request,
                _("%(store)s: %(added)s SKUs added, %(updated)s updated, %(unchanged)s unchanged.")
                % {
                    "added": result.added,
                    "store": store.name,
                    "updated": result.updated,
                    "unchanged": result.unchanged,
                },
            )
            return redirect("dash-cs-store-assortment", store.pk)
        status = 400
    ctx = {
        "nav": "catalogue",
        "sub": "stock",
        "store": store,
        "missing": selectors.assortment_missing(brand=brand, store=store),
        "category_form": category_form,
        "file_form": file_form,
        "result": result,
        "errors_shown": result.errors[:ASSORTMENT_ERRORS_SHOWN] if result else [],
        "errors_more": max(0, len(result.errors) - ASSORTMENT_ERRORS_SHOWN) if result else 0,
    }
    return render(request, "cloudstore/dashboard/store_assortment.html", ctx, status=status)


@admin_required
@require_POST
def photo_add(request, product_id: int):
    product = _product(request, product_id)
    form = ImageForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            call_service(
                catalogue.product_image_add,
                brand=request.brand,
                staff=request.staff,
                actor=_actor(request),
                product=product,
                upload=form.cleaned_data["image"],
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Photo added."))
            return redirect("dash-cs-product", product.pk)
    return _product_page(request, product, image_form=form, status=400)


@admin_required
@require_POST
def photo_delete(request, product_id: int, image_id: int):
    product = _product(request, product_id)
    image = get_for_brand_or_404(ProductImage.objects.filter(product=product), request.brand, pk=image_id)
    call_service(
        catalogue.product_image_delete,
        brand=request.brand,
        staff=request.staff,
        actor=_actor(request),
        image=image,
    )
    messages.success(request, _("Photo deleted."))
    return redirect("dash-cs-product", product.pk)


# --- catalogue: categories ------------------------------------------------------------------------


@admin_required
@require_http_methods(["GET", "POST"])
def category_list(request, category_id: int | None = None):
    """Categories, with a form to add one (or, with an id, to rename one)."""
    brand = request.brand
    categories = selectors.category_list(brand=brand)
    category = get_for_brand_or_404(categories, brand, pk=category_id) if category_id else None
    initial = {"name": category.name, "sort": category.sort} if category else None
    form = CategoryForm(posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            call_service(
                catalogue.category_save,
                brand=brand,
                staff=request.staff,
                actor=_actor(request),
                data=form.data_for_service(),
                category=category,
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Category saved."))
            return redirect("dash-cs-categories")
    rows = categories.annotate(n=Count("products"))
    ctx = {"nav": "catalogue", "sub": "categories", "form": form, "category": category, "rows": rows}
    return render(request, "cloudstore/dashboard/categories.html", ctx, status=form_status(form))


# --- store prices and stock -----------------------------------------------------------------------


@admin_required
@require_GET
def store_pick(request):
    """Store prices and stock: choose a store (the first one by default)."""
    stores = selectors.visible_stores(brand=request.brand, viewer=request.staff)
    raw = request.GET.get("store", "")
    store = stores.filter(pk=int(raw)).first() if raw.isdigit() else None
    store = store or stores.first()
    if store is None:
        return render(request, "cloudstore/dashboard/store_stock.html", {"nav": "catalogue", "sub": "stock"})
    return redirect("dash-cs-store-stock", store.pk)


def _dash_store(request, store_id: int) -> Store:
    return get_for_brand_or_404(
        selectors.visible_stores(brand=request.brand, viewer=request.staff), request.brand, pk=store_id
    )


@admin_required
@require_http_methods(["GET", "POST"])
def store_stock(request, store_id: int):
    brand = request.brand
    store = _dash_store(request, store_id)
    add_form = StoreSkuAddForm(posted(request))
    if request.method == "POST" and add_form.is_valid():
        sku = selectors.sku_list(brand=brand).filter(code=add_form.cleaned_data["sku_code"].strip()).first()
        if sku is None:
            add_form.add_error("sku_code", _("No SKU has this code."))
        else:
            try:
                call_service(
                    catalogue.store_price_set,
                    brand=brand,
                    staff=request.staff,
                    actor=_actor(request),
                    store=store,
                    sku=sku,
                    price_fen=add_form.cleaned_data["price"],
                )
            except ValidationError as exc:
                apply_service_errors(add_form, exc, rename={"price_fen": "price"})
            else:
                messages.success(request, _("%(code)s is now in this store's list.") % {"code": sku.code})
                return redirect("dash-cs-store-stock", store.pk)
    q = request.GET.get("q", "")[:64].strip()
    low_only = request.GET.get("low") == "1"
    qs = selectors.store_stock(brand=brand, store=store, q=q, low_only=low_only)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    ctx = {
        "nav": "catalogue",
        "sub": "stock",
        "store": store,
        "stores": selectors.visible_stores(brand=brand, viewer=request.staff).only("id", "code", "name")[
            :500
        ],
        "page": page,
        "rows": [
            {
                "inv": inv,
                "form": StorePriceForm(initial={"price": yuan_input(inv.price_fen)}, prefix=f"p{inv.sku_id}"),
            }
            for inv in page.object_list
        ],
        "q": q,
        "low_only": low_only,
        "low_count": selectors.low_stock_count(brand=brand, store=store),
        "add_form": add_form,
    }
    return render(request, "cloudstore/dashboard/store_stock.html", ctx, status=form_status(add_form))


@admin_required
@require_POST
def store_price(request, store_id: int, sku_id: int):
    """Set or clear (empty) one SKU's price at the store; htmx swaps the table row."""
    brand = request.brand
    store = _dash_store(request, store_id)
    sku = get_for_brand_or_404(Sku, brand, pk=sku_id)
    form = StorePriceForm(request.POST, prefix=f"p{sku.pk}")
    status = 200
    if form.is_valid():
        try:
            call_service(
                catalogue.store_price_set,
                brand=brand,
                staff=request.staff,
                actor=_actor(request),
                store=store,
                sku=sku,
                price_fen=form.cleaned_data["price"],
            )
        except ValidationError as exc:
            apply_service_errors(form, exc, rename={"price_fen": "price"})
            status = 400
        else:
            if not request.htmx:
                messages.success(request, _("Price saved."))
                return redirect("dash-cs-store-stock", store.pk)
            form = StorePriceForm(prefix=f"p{sku.pk}")
    else:
        status = 400
    inv = selectors.store_stock(brand=brand, store=store).filter(sku=sku).first()
    if inv is None:
        raise Http404("This SKU is not in the store's list.")
    if status == 200:
        form = StorePriceForm(initial={"price": yuan_input(inv.price_fen)}, prefix=f"p{sku.pk}")
    if not request.htmx:
        messages.error(request, " ".join(e for errs in form.errors.values() for e in errs))
        return redirect("dash-cs-store-stock", store.pk)
    ctx = {"r": {"inv": inv, "form": form}, "store": store, "saved": status == 200}
    return render(request, "cloudstore/dashboard/_stock_row.html", ctx, status=status)


# --- campaigns ------------------------------------------------------------------------------------


@admin_required
@require_GET
def campaign_list(request):
    page = Paginator(selectors.campaign_list(brand=request.brand), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    ctx = {"nav": "campaigns", "page": page, "now": timezone.now()}
    return render(request, "cloudstore/dashboard/campaigns.html", ctx)


@admin_required
@require_http_methods(["GET", "POST"])
def campaign_edit(request, campaign_id: int | None = None):
    campaign = get_for_brand_or_404(Campaign, request.brand, pk=campaign_id) if campaign_id else None
    initial = None
    if campaign is None:
        today = store_today(None)
        initial = {"valid_from": today, "valid_until": today + datetime.timedelta(days=30)}
    form = CampaignForm(posted(request), campaign=campaign, tz=settings.TIME_ZONE, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            saved = call_service(
                promotions.campaign_save,
                brand=request.brand,
                staff=request.staff,
                actor=_actor(request),
                data=form.data_for_service(),
                campaign=campaign,
            )
        except ValidationError as exc:
            apply_service_errors(
                form,
                exc,
                rename={
                    "amount_off_fen": "amount_off",
                    "max_discount_fen": "max_discount",
                    "threshold_fen": "threshold",
                    "starts_at": "valid_from",
                    "ends_at": "valid_until",
                },
            )
        else:
            messages.success(request, _("Campaign “%(name)s” saved.") % {"name": saved.name})
            return redirect("dash-cs-campaigns")
    ctx = {"nav": "campaigns", "form": form, "campaign": campaign}
    return render(request, "cloudstore/dashboard/campaign_form.html", ctx, status=form_status(form))


# --- orders ---------------------------------------------------------------------------------------


def _visible_stores(request):
    return selectors.visible_stores(brand=request.brand, viewer=request.staff).only("id", "code", "name")


@manager_required
@require_GET
def order_list(request):
    form = OrderFilterForm(request.GET or None, stores=_visible_stores(request)[:500])
    if form.is_bound:
        form.is_valid()
    qs = selectors.order_list(brand=request.brand, viewer=request.staff, filters=form.filters())
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    ctx = {"nav": "orders", "sub": "orders", "form": form, "page": page}
    template = "cloudstore/dashboard/_order_rows.html" if request.htmx else "cloudstore/dashboard/orders.html"
    return render(request, template, ctx, status=form_status(form))


def _may_refund(staff, order: Order) -> bool:
    return roles.can_manage_stores(staff) or (
        order.store_id is not None and roles.can_manage_store(staff, order.store_id)
    )


def _order(request, order_id: int) -> Order:
    try:
        return selectors.order_get(brand=request.brand, viewer=request.staff, order_id=order_id)
    except Order.DoesNotExist as exc:
        raise Http404("No such order.") from exc


def _order_page(request, order: Order, *, refund_form=None, status=200):
    refundable = (
        order.status in order_status.REFUNDABLE
        and order.refundable_fen > 0
        and _may_refund(request.staff, order)
    )
    lines = list(order.lines.all())
    refunds = list(order.refunds.select_related("created_by"))
    ctx = {
        "nav": "orders",
        "sub": "orders",
        "order": order,
        "lines": lines,
        "refunds": refunds,
        "customer": order_customer(order),
        "timeline": order_timeline(order),
        "refundable": refundable,
        "refund_form": (refund_form or RefundForm(lines=lines, restockable=order.restockable))
        if refundable
        else None,
        "tz": order.store.timezone if order.store_id else settings.TIME_ZONE,
    }
    return render(request, "cloudstore/dashboard/order.html", ctx, status=status)


@manager_required
@require_GET
def order_detail(request, order_id: int):
    return _order_page(request, _order(request, order_id))


@manager_required
@require_POST
def order_refund(request, order_id: int):
    order = _order(request, order_id)
    if not _may_refund(request.staff, order):
        raise PermissionDenied
    form = RefundForm(request.POST, lines=order.lines.all(), restockable=order.restockable)
    if form.is_valid():
        kwargs = form.service_kwargs()
        fingerprint = request_fingerprint({"order": order.pk, **kwargs})
        try:
            refund, replayed = call_service(
                refunds.refund_create,
                brand=request.brand,
                staff=request.staff,
                actor=_actor(request),
                order=order,
                key=page_key(request.staff, form.cleaned_data["key"]),
                fingerprint=fingerprint,
                **kwargs,
            )
        except ValidationError as exc:
            apply_service_errors(
                form, exc, rename={"amount_fen": "amount", "lines": "__all__", "key": "__all__"}
            )
        else:
            if replayed:
                messages.info(request, _("This refund was already made; it was not made twice."))
            else:
                messages.success(request, _("Refunded %(amount)s.") % {"amount": yuan(refund.amount_fen)})
            return redirect("dash-cs-order", order.pk)
    return _order_page(request, _order(request, order_id), refund_form=form, status=400)


# --- takings --------------------------------------------------------------------------------------


@manager_required
@require_GET
def takings_report(request):
    """Takings per day and channel over up to 31 days, for one store or (brand admins) all."""
    brand, viewer = request.brand, request.staff
    all_stores = roles.sees_all_stores(viewer)
    stores = list(_visible_stores(request)[:500])
    form = TakingsFilterForm(request.GET or None, stores=stores, all_stores=all_stores)
    store = None
    today = store_today(None)
    start, end = today - datetime.timedelta(days=TAKINGS_DEFAULT_DAYS - 1), today
    if form.is_bound and form.is_valid():
        d = form.cleaned_data
        if d.get("store"):
            store = next(s for s in stores if s.pk == d["store"])
        start = d.get("date_from") or start
        end = d.get("date_to") or end
        if start > end:
            start = end
        end = min(end, start + datetime.timedelta(days=30))
    if store is None and not all_stores:
        if not stores:
            raise PermissionDenied
        store = stores[0]
    tz = store.timezone if store else settings.TIME_ZONE
    days = []
    day = end
    while day >= start:
        days.append(selectors.takings(brand=brand, store=store, day=day, tz=tz))
        day -= datetime.timedelta(days=1)
    totals = {k: sum(r["total"][k] for r in days) for k in ("orders", "paid_fen", "refunded_fen", "net_fen")}
    peak = max([r["total"]["paid_fen"] for r in days] + [1])
    channels = [(v, label) for v, label in Order.Channel.choices]
    paid_by_channel: dict[str, int] = {}
    for r in days:
        for row in r["rows"]:
            paid_by_channel[row["channel"]] = paid_by_channel.get(row["channel"], 0) + row["paid_fen"]
    channel_totals = [{"value": v, "label": label, "fen": paid_by_channel.get(v, 0)} for v, label in channels]
    for r in days:
        r["bars"] = [
            {
                "channel": row["channel"],
                "label": row["label"],
                "pct": row["paid_fen"] * 100 / peak,
                "fen": row["paid_fen"],
            }
            for row in r["rows"]
            if row["paid_fen"]
        ]
    ctx = {
        "nav": "orders",
        "sub": "takings",
        "form": form,
        "store": store,
        "days": days,
        "totals": totals,
        "channels": channels,
        "channel_totals": channel_totals,
        "start": start,
        "end": end,
    }
    return render(request, "cloudstore/dashboard/takings.html", ctx, status=form_status(form))
