"""Mass message pages: the guide's 群发 on her phone (/m/messages/broadcasts/: to her own members)
and the brand's in the console (/dashboard/messaging/broadcasts/: to a segment; brand admins, and
store managers for their stores). Thin: forms validate, broadcasts.py writes, the selectors read."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from guides.messaging import broadcast_selectors as sel
from guides.messaging import broadcasts as svc
from guides.messaging.models import BODY_MAX, Broadcast
from retail import roles
from retail.events import Actor
from retail.models import Staff, StaffStore, Store
from retail.pages import (
    apply_service_errors,
    call_service,
    form_status,
    manager_required,
    posted,
    staff_required,
)
from retail.tenancy import brand_scope

PAGE = 30
KINDS = [("text", gettext_lazy("Text")), ("product", gettext_lazy("Product card"))]


class BroadcastForm(forms.Form):
    kind = forms.ChoiceField(
        label=gettext_lazy("Message"), choices=KINDS, initial="text", widget=forms.RadioSelect
    )
    body = forms.CharField(
        label=gettext_lazy("Text"),
        required=False,
        max_length=BODY_MAX,
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": BODY_MAX}),
    )
    product = forms.TypedChoiceField(
        label=gettext_lazy("Product"), required=False, coerce=int, empty_value=None
    )
    send_at = forms.DateTimeField(
        label=gettext_lazy("Send at"),
        required=False,
        help_text=gettext_lazy("Leave empty to send now."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )

    def __init__(self, *args, brand, staff, **kwargs):
        super().__init__(*args, **kwargs)
        from cloudstore.models import Product

        with brand_scope(brand):
            products = list(
                Product.objects.for_brand(brand)
                .filter(status=Product.Status.ACTIVE)
                .order_by("name", "id")
                .values_list("pk", "name")[:200]
            )
        self.fields["product"].choices = [("", _("Choose a product")), *products]

    counting = False  # only counting the recipients: the message itself may still be empty

    def clean(self):
        data = super().clean()
        if self.counting:
            return data
        if data.get("kind") == "product" and not data.get("product"):
            self.add_error("product", _("Choose a product."))
        if data.get("kind") == "text" and not (data.get("body") or "").strip():
            self.add_error("body", _("Write a message."))
        return data


class SegmentForm(BroadcastForm):
    tags = forms.TypedMultipleChoiceField(
        label=gettext_lazy("Tags (any)"), required=False, coerce=int, widget=forms.CheckboxSelectMultiple
    )
    tier = forms.TypedChoiceField(label=gettext_lazy("Tier"), required=False, coerce=int, empty_value=None)
    store = forms.TypedChoiceField(label=gettext_lazy("Store"), required=False, coerce=int, empty_value=None)
    guide = forms.TypedChoiceField(label=gettext_lazy("Guide"), required=False, coerce=int, empty_value=None)
    bought_within_days = forms.IntegerField(
        label=gettext_lazy("Bought within (days)"), required=False, min_value=1, max_value=svc.DAYS_MAX
    )
    not_bought_days = forms.IntegerField(
        label=gettext_lazy("Not bought for (days)"), required=False, min_value=1, max_value=svc.DAYS_MAX
    )

    def __init__(self, *args, brand, staff, **kwargs):
        super().__init__(*args, brand=brand, staff=staff, **kwargs)
        from members.models import Tag, Tier

        with brand_scope(brand):
            self.fields["tags"].choices = list(Tag.objects.for_brand(brand).values_list("pk", "name")[:200])
            self.fields["tier"].choices = [
                ("", _("Any tier")),
                *Tier.objects.for_brand(brand).values_list("pk", "name"),
            ]
            stores = Store.objects.for_brand(brand).order_by("code")
            guides = Staff.objects.for_brand(brand).filter(status=Staff.Status.ACTIVE, kind=Staff.Kind.PERSON)
            if not roles.sees_all_stores(staff):
                mine = roles.store_ids(staff)
                stores = stores.filter(pk__in=mine)
                guides = guides.filter(
                    pk__in=StaffStore.objects.for_brand(brand).filter(store_id__in=mine).values("staff_id")
                )
            self.fields["store"].choices = [
                ("", _("Any store")),
                *((s.pk, f"{s.name} ({s.code})") for s in stores[:500]),
            ]
            self.fields["guide"].choices = [
                ("", _("Any guide")),
                *guides.order_by("name").values_list("pk", "name")[:500],
            ]

    def segment(self) -> dict:
        d = self.cleaned_data
        keys = ("tags", "tier", "store", "guide", "bought_within_days", "not_bought_days")
        return {k: d[k] for k in keys if d.get(k) not in (None, "", [])}


def _create(request, form, *, guide_only: bool, segment: dict):
    d = form.cleaned_data
    send_at = d.get("send_at")
    return call_service(
        svc.broadcast_create,
        brand=request.brand,
        staff=request.staff,
        actor=Actor.from_request(request),
        guide_only=guide_only,
        body=d.get("body") or "",
        kind=d["kind"],
        product_id=d.get("product"),
        segment=segment,
        send_at=send_at,
    )


def _page(request, qs):
    try:
        number = max(1, min(int(request.GET.get("page", "1")), 10_000))
    except ValueError:
        number = 1
    return Paginator(qs, PAGE).get_page(number)


def _stats(brand, b: Broadcast) -> dict:
    read = sel.broadcast_read_count(brand=brand, broadcast=b) if b.sent else 0
    return {"read": read, "read_pct": round(100 * read / b.sent) if b.sent else 0}


def _get(request, pk: int, *, guide_only: bool) -> Broadcast:
    b = sel.broadcast_get(brand=request.brand, staff=request.staff, pk=pk, guide_only=guide_only)
    if b is None:
        raise Http404
    return b


def _cancel(request, pk: int, *, guide_only: bool):
    b = _get(request, pk, guide_only=guide_only)
    try:
        call_service(
            svc.broadcast_cancel,
            brand=request.brand,
            staff=request.staff,
            actor=Actor.from_request(request),
            broadcast=b,
        )
    except PermissionDenied:
        raise Http404 from None
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    else:
        messages.success(request, _("The mass message was cancelled."))
    return b


# --- the guide's phone ------------------------------------------------------------------------


@staff_required
@require_GET
def m_list(request):
    with brand_scope(request.brand):
        page = _page(request, sel.broadcast_list(brand=request.brand, staff=request.staff, guide_only=True))
    return render(request, "guides/messaging/broadcasts/m_list.html", {"tab": "messages", "page": page})


@staff_required
@require_http_methods(["GET", "POST"])
def m_new(request):
    brand, staff = request.brand, request.staff
    form = BroadcastForm(posted(request), brand=brand, staff=staff)
    if request.method == "POST" and form.is_valid():
        try:
            b = _create(request, form, guide_only=True, segment={})
        except ValidationError as exc:
            apply_service_errors(form, exc, rename={"product_id": "product"})
        else:
            messages.success(
                request,
                _("Scheduled.")
                if b.status == "scheduled" and b.send_at > timezone.now()
                else _("Sending to your members."),
            )
            return redirect("m-broadcast", pk=b.pk)
    preview = sel.broadcast_preview(brand=brand, staff=staff, segment={}, guide_only=True)
    return render(
        request,
        "guides/messaging/broadcasts/m_new.html",
        {"tab": "messages", "form": form, "preview": preview},
        status=form_status(form),
    )


@staff_required
@require_GET
def m_detail(request, pk: int):
    b = _get(request, pk, guide_only=True)
    return render(
        request,
        "guides/messaging/broadcasts/m_detail.html",
        {"tab": "messages", "b": b, **_stats(request.brand, b)},
    )


@staff_required
@require_POST
def m_cancel(request, pk: int):
    _cancel(request, pk, guide_only=True)
    return redirect("m-broadcast", pk=pk)


# --- the brand's console ----------------------------------------------------------------------


def _dash_ctx(**extra) -> dict:
    from django.urls import reverse

    return {
        "nav": "messaging",
        "sub": "broadcasts",
        "broadcasts_url": reverse("dash-messaging-broadcasts"),
        **extra,
    }


@manager_required
@require_GET
def dash_list(request):
    with brand_scope(request.brand):
        page = _page(request, sel.broadcast_list(brand=request.brand, staff=request.staff, guide_only=False))
    return render(request, "guides/messaging/broadcasts/dash_list.html", _dash_ctx(page=page))


@manager_required
@require_http_methods(["GET", "POST"])
def dash_new(request):
    brand, staff = request.brand, request.staff
    form = SegmentForm(posted(request), brand=brand, staff=staff)
    form.counting = request.method == "POST" and request.POST.get("action") == "preview"
    preview = None
    if request.method == "POST" and form.is_valid():
        segment = form.segment()
        if request.POST.get("action") == "preview":
            try:
                clean = svc.segment_clean(brand=brand, staff=staff, segment=segment, guide_only=False)
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                preview = sel.broadcast_preview(brand=brand, staff=staff, segment=clean, guide_only=False)
        else:
            try:
                b = _create(request, form, guide_only=False, segment=segment)
            except ValidationError as exc:
                apply_service_errors(form, exc, rename={"product_id": "product"})
            else:
                messages.success(request, _("The mass message was created."))
                return redirect("dash-messaging-broadcast", pk=b.pk)
    elif request.method == "GET":
        preview = sel.broadcast_preview(brand=brand, staff=staff, segment={}, guide_only=False)
    return render(
        request,
        "guides/messaging/broadcasts/dash_new.html",
        _dash_ctx(form=form, preview=preview),
        status=form_status(form),
    )


@manager_required
@require_GET
def dash_detail(request, pk: int):
    b = _get(request, pk, guide_only=False)
    names = _segment_labels(request.brand, b.segment)
    return render(
        request,
        "guides/messaging/broadcasts/dash_detail.html",
        _dash_ctx(b=b, segment_labels=names, **_stats(request.brand, b)),
    )


@manager_required
@require_POST
def dash_cancel(request, pk: int):
    _cancel(request, pk, guide_only=False)
    return redirect("dash-messaging-broadcast", pk=pk)


def _segment_labels(brand, segment: dict) -> list[tuple[str, str]]:
    """The segment in words, for the detail page."""
    from members.models import Tag, Tier

    out: list[tuple[str, str]] = []
    with brand_scope(brand):
        if segment.get("tags"):
            names = Tag.objects.for_brand(brand).filter(pk__in=segment["tags"]).values_list("name", flat=True)
            out.append((_("Tags (any)"), "、".join(names)))
        if segment.get("tier"):
            out.append(
                (
                    _("Tier"),
                    Tier.objects.for_brand(brand)
                    .filter(pk=segment["tier"])
                    .values_list("name", flat=True)
                    .first()
                    or "—",
                )
            )
        if segment.get("store"):
            out.append(
                (
                    _("Store"),
                    Store.objects.for_brand(brand)
                    .filter(pk=segment["store"])
                    .values_list("name", flat=True)
                    .first()
                    or "—",
                )
            )
        if segment.get("guide"):
            out.append(
                (
                    _("Guide"),
                    Staff.objects.for_brand(brand)
                    .filter(pk=segment["guide"])
                    .values_list("name", flat=True)
                    .first()
                    or "—",
                )
            )
    if segment.get("bought_within_days"):
        out.append((_("Bought within (days)"), str(segment["bought_within_days"])))
    if segment.get("not_bought_days"):
        out.append((_("Not bought for (days)"), str(segment["not_bought_days"])))
    if not out:
        out.append((_("Members"), _("All members")))
    return out
