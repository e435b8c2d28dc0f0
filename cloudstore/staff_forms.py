"""Forms of the cloud store's staff pages (guide mobile UI and brand dashboard). They only
validate and convert input (yuan to integer fen, dates to the store's day); services write."""

from __future__ import annotations

import csv
import datetime
import io
import uuid
import zoneinfo

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from cloudstore.models import Campaign, Order, Product, StockMovement
from cloudstore.selectors import OrderFilters
from retail.form_keys import UUID_RE
from retail.money import YuanField, yuan_input

MAX_RANGE_DAYS = 31


class _DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


def _local_day_start(day: datetime.date, tz: str) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=zoneinfo.ZoneInfo(tz))


# --- catalogue ------------------------------------------------------------------------------------


class CategoryForm(forms.Form):
    name = forms.CharField(label=_("Category name"), max_length=64)
    sort = forms.IntegerField(
        label=_("Sort order"),
        min_value=0,
        max_value=10_000,
        initial=0,
        required=False,
        help_text=_("Smaller numbers come first."),
    )

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise ValidationError(_("Give the category a name."))
        return name

    def data_for_service(self) -> dict:
        return {"name": self.cleaned_data["name"], "sort": self.cleaned_data.get("sort") or 0}


class ProductForm(forms.Form):
    name = forms.CharField(label=_("Product name"), max_length=120)
    category = forms.ModelChoiceField(
        label=_("Category"), queryset=None, required=False, empty_label=_("No category")
    )
    status = forms.ChoiceField(
        label=_("Status"), choices=Product.Status.choices, initial=Product.Status.ACTIVE
    )
    description = forms.CharField(
        label=_("Description"), max_length=4000, required=False, widget=forms.Textarea(attrs={"rows": 5})
    )

    def __init__(self, *args, categories, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = categories

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise ValidationError(_("Give the product a name."))
        return name

    def data_for_service(self) -> dict:
        d = self.cleaned_data
        return {
            "name": d["name"],
            "category": d["category"],
            "status": d["status"],
            "description": d["description"],
        }


class SkuForm(forms.Form):
    code = forms.RegexField(
        label=_("SKU code"),
        regex=r"^[A-Za-z0-9._/-]{1,64}$",
        max_length=64,
        error_messages={"invalid": _("Letters, digits and . _ / - only.")},
        widget=forms.TextInput(attrs={"placeholder": "HA-50", "autocomplete": "off"}),
    )
    spec = forms.CharField(
        label=_("Specification"),
        max_length=64,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. 50ml, red, size M")}),
    )
    barcode = forms.RegexField(
        label=_("Barcode"),
        regex=r"^[0-9A-Za-z-]{1,32}$",
        max_length=32,
        required=False,
        error_messages={"invalid": _("Digits and letters only.")},
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    list_price = YuanField(
        label=_("List price (¥)"), help_text=_("The brand's price; stores may set their own.")
    )
    active = forms.BooleanField(label=_("On sale"), required=False, initial=True)

    def data_for_service(self) -> dict:
        d = self.cleaned_data
        return {
            "code": d["code"],
            "spec": d["spec"].strip(),
            "barcode": d["barcode"] or "",
            "list_price_fen": d["list_price"],
            "active": d["active"],
        }


class ImageForm(forms.Form):
    # A plain file field: the catalogue service checks that it is an image we can read.
    image = forms.FileField(
        label=_("Photo"),
        help_text=_("JPEG, PNG, WebP or GIF, at most 10 MB. Metadata such as location is removed."),
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp,image/gif"}),
    )


class StorePriceForm(forms.Form):
    price = YuanField(label=_("Store price (¥)"), required=False)


class StoreSkuAddForm(forms.Form):
    sku_code = forms.CharField(label=_("SKU code"), max_length=64)
    price = YuanField(
        label=_("Store price (¥)"), required=False, help_text=_("Empty: the brand's list price.")
    )


ASSORTMENT_MAX_BYTES = 2 * 1024 * 1024
ASSORTMENT_COLUMNS = {
    "sku": {"sku", "sku_code", "sku code", "code", "sku编码", "商品编码", "编码"},
    "price": {"price", "store_price", "price_yuan", "价格", "门店价", "门店价格", "售价"},
    "stock": {"stock", "on_hand", "quantity", "库存", "数量"},
}
# Files that are plainly not text: images, PDFs, Excel workbooks (zip or the old binary format).
_IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"RIFF", b"BM", b"II*\x00", b"MM\x00*", b"%PDF")
_EXCEL_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")


class AssortmentCategoryForm(forms.Form):
    category = forms.TypedChoiceField(label=_("Category"), coerce=int)

    def __init__(self, *args, categories, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [(c.pk, c.name) for c in categories]


class AssortmentFileForm(forms.Form):
    """A CSV naming SKU codes, with optional store price (yuan) and stock columns; ``rows`` holds its
    rows as written (the service checks them), each with its line number in the file."""

    file = forms.FileField(
        label=_("CSV file"),
        help_text=_("Columns: sku (required), price in yuan and stock (optional); at most 2 MB."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def clean_file(self):
        f = self.cleaned_data["file"]
        if f.size > ASSORTMENT_MAX_BYTES:
            raise ValidationError(_("The file is larger than 2 MB; split it into smaller files."))
        raw = f.read(ASSORTMENT_MAX_BYTES + 1)
        if raw.startswith(_EXCEL_MAGIC):
            raise ValidationError(
                _("This is an Excel workbook. In Excel, save it as “CSV UTF-8” and upload that file.")
            )
        if raw.startswith(_IMAGE_MAGIC) or b"\x00" in raw[:4096]:
            raise ValidationError(
                _(
                    "This is not a CSV file (it looks like an image or another binary file). "
                    "Upload a CSV file."
                )
            )
        for encoding in ("utf-8-sig", "gb18030"):  # Excel in Chinese saves CSV as GBK
            try:
                text = raw.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:  # pragma: no cover - gb18030 decodes nearly anything
            raise ValidationError(_("The file is not readable text. Save it as “CSV UTF-8”."))
        reader = csv.reader(io.StringIO(text, newline=""))
        try:
            lines = [(reader.line_num, cells) for cells in reader]  # line numbers as in the file
        except csv.Error as exc:
            raise ValidationError(_("The file is not a readable CSV file.")) from exc
        header = [c.strip().lower() for c in (lines[0][1] if lines else [])]
        where = {
            key: next((i for i, name in enumerate(header) if name in names), None)
            for key, names in ASSORTMENT_COLUMNS.items()
        }
        if where["sku"] is None:
            raise ValidationError(
                _("The first line must name the columns: sku (required), price and stock (optional).")
            )

        def cell(cells: list[str], key: str) -> str:
            i = where[key]
            return cells[i].strip()[:100] if i is not None and i < len(cells) else ""

        self.rows = [
            {"line": n, **{key: cell(cells, key) for key in ASSORTMENT_COLUMNS}}
            for n, cells in lines[1:]
            if any(c.strip() for c in cells)
        ]
        return f


# --- campaigns ------------------------------------------------------------------------------------


class CampaignForm(forms.Form):
    name = forms.CharField(label=_("Campaign name"), max_length=64)
    kind = forms.ChoiceField(
        label=_("Discount"),
        choices=Campaign.Kind.choices,
        widget=forms.RadioSelect,
        initial=Campaign.Kind.AMOUNT_OFF,
    )
    amount_off = YuanField(label=_("Amount off (¥)"), required=False)
    percent_off = forms.IntegerField(
        label=_("Percent off"),
        min_value=1,
        max_value=99,
        required=False,
        # xgettext:no-python-format
        help_text=_("e.g. 15 for 15% off."),
        widget=forms.NumberInput(attrs={"min": "1", "max": "99"}),
    )
    max_discount = YuanField(label=_("At most (¥)"), required=False, help_text=_("Empty: no cap."))
    threshold = YuanField(
        label=_("Minimum spend (¥)"), required=False, help_text=_("Empty or 0: no minimum.")
    )
    per_member_limit = forms.IntegerField(
        label=_("Coupons per member"), min_value=1, max_value=1000, initial=1
    )
    total_limit = forms.IntegerField(
        label=_("Coupons in total"),
        min_value=1,
        max_value=100_000_000,
        required=False,
        help_text=_("Empty: no limit."),
    )
    valid_from = forms.DateField(label=_("Valid from"), widget=_DateInput())
    valid_until = forms.DateField(
        label=_("Valid until"), widget=_DateInput(), help_text=_("Including this day.")
    )
    guides_may_issue = forms.BooleanField(label=_("Guides may issue and share"), required=False, initial=True)
    active = forms.BooleanField(label=_("Enabled"), required=False, initial=True)

    def __init__(self, *args, campaign: Campaign | None = None, tz: str = settings.TIME_ZONE, **kwargs):
        self.campaign = campaign
        self.tz = tz
        if campaign is not None:
            kwargs["initial"] = self.initial_for(campaign, tz)
        super().__init__(*args, **kwargs)

    @staticmethod
    def initial_for(c: Campaign, tz: str) -> dict:
        zone = zoneinfo.ZoneInfo(tz)
        return {
            "name": c.name,
            "kind": c.kind,
            "amount_off": yuan_input(c.amount_off_fen) if c.kind == Campaign.Kind.AMOUNT_OFF else "",
            "percent_off": c.percent_off or None,
            "max_discount": yuan_input(c.max_discount_fen),
            "threshold": yuan_input(c.threshold_fen),
            "per_member_limit": c.per_member_limit,
            "total_limit": c.total_limit,
            "valid_from": c.starts_at.astimezone(zone).date(),
            "valid_until": (c.ends_at - datetime.timedelta(microseconds=1)).astimezone(zone).date(),
            "guides_may_issue": c.guides_may_issue,
            "active": c.active,
        }

    def clean(self):
        d = super().clean()
        kind = d.get("kind")
        if kind == Campaign.Kind.AMOUNT_OFF and "amount_off" not in self.errors and not d.get("amount_off"):
            self.add_error("amount_off", _("Give the amount off."))
        if (
            kind == Campaign.Kind.PERCENT_OFF
            and "percent_off" not in self.errors
            and not d.get("percent_off")
        ):
            self.add_error("percent_off", _("Between 1 and 99 percent."))
        if d.get("valid_from") and d.get("valid_until") and d["valid_until"] < d["valid_from"]:
            self.add_error("valid_until", _("The end date is before the start date."))
        return d

    def data_for_service(self) -> dict:
        d = self.cleaned_data
        percent = d["kind"] == Campaign.Kind.PERCENT_OFF
        data = {
            "name": d["name"].strip(),
            "kind": d["kind"],
            "amount_off_fen": 0 if percent else d["amount_off"],
            "percent_off": d["percent_off"] if percent else 0,
            "max_discount_fen": d["max_discount"] if percent else None,
            "threshold_fen": d["threshold"] or 0,
            "per_member_limit": d["per_member_limit"],
            "total_limit": d["total_limit"],
            "guides_may_issue": d["guides_may_issue"],
            "active": d["active"],
        }
        # Dates are whole days in the brand's time zone; an unchanged date keeps the exact time
        # a campaign made through the API may have.
        old = self.initial_for(self.campaign, self.tz) if self.campaign else {}
        if d["valid_from"] != old.get("valid_from"):
            data["starts_at"] = _local_day_start(d["valid_from"], self.tz)
        if d["valid_until"] != old.get("valid_until"):
            data["ends_at"] = _local_day_start(d["valid_until"] + datetime.timedelta(days=1), self.tz)
        return data


# --- stock and pickups ----------------------------------------------------------------------------


class StockChangeForm(forms.Form):
    KINDS = [
        (StockMovement.Kind.RECEIVE, _("Goods received (+)")),
        (StockMovement.Kind.ADJUST, _("Adjust (+/−)")),
        (StockMovement.Kind.COUNT, _("Stock count (=)")),
    ]
    kind = forms.ChoiceField(
        label=_("Kind of change"), choices=KINDS, widget=forms.RadioSelect, initial=StockMovement.Kind.RECEIVE
    )
    quantity = forms.IntegerField(
        label=_("Quantity"),
        min_value=-1_000_000,
        max_value=1_000_000,
        help_text=_("Received: units that arrived. Adjust: the change, e.g. -2. Count: units on the shelf."),
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "step": "1"}),
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. delivery no. 1234, damaged, monthly count")}),
    )
    low_stock_at = forms.IntegerField(
        label=_("Warn when available is at most"), min_value=0, max_value=100_000, required=False
    )

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise ValidationError(_("Say why."))
        return reason


class PickupForm(forms.Form):
    code = forms.CharField(
        label=_("Pickup code"),
        max_length=400,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "autocapitalize": "off",
                "spellcheck": "false",
                "inputmode": "numeric",
                "placeholder": _("6 digits, or scan the shopper's pickup QR"),
            }
        ),
    )
    # Set on the second step: the order the staff member was shown and now hands over.
    order = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput())

    def clean_code(self):
        code = self.cleaned_data["code"].strip()
        if not code:
            raise ValidationError(_("Enter the pickup code."))
        return code


class DayForm(forms.Form):
    day = forms.DateField(label=_("Day"), required=False, widget=_DateInput())


# --- orders ---------------------------------------------------------------------------------------


class OrderFilterForm(forms.Form):
    number = forms.CharField(label=_("Order number"), max_length=64, required=False)
    status = forms.ChoiceField(label=_("Status"), required=False)
    channel = forms.ChoiceField(label=_("Channel"), required=False)
    store = forms.TypedChoiceField(label=_("Store"), required=False, coerce=int, empty_value=None)
    date_from = forms.DateField(label=_("From"), required=False, widget=_DateInput())
    date_to = forms.DateField(label=_("Until"), required=False, widget=_DateInput())

    def __init__(self, *args, stores, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", _("All statuses")), *Order.Status.choices]
        self.fields["channel"].choices = [("", _("All channels")), *Order.Channel.choices]
        self.fields["store"].choices = [("", _("All stores")), *[(s.pk, s.name) for s in stores]]

    def clean(self):
        d = super().clean()
        if d.get("date_from") and d.get("date_to") and d["date_from"] > d["date_to"]:
            self.add_error("date_to", _("The end date is before the start date."))
        return d

    def filters(self) -> OrderFilters:
        """The valid part of the input as selector filters (invalid fields are left out)."""
        d = getattr(self, "cleaned_data", {})
        return OrderFilters(
            status=d.get("status") or "",
            channel=d.get("channel") or "",
            store=d.get("store"),
            number=(d.get("number") or "").strip(),
            date_from=d.get("date_from"),
            date_to=d.get("date_to"),
        )


class RefundForm(forms.Form):
    """Refund chosen lines (a quantity per line) or an amount; ``key`` makes a double submit one refund."""

    BY_LINES, BY_AMOUNT = "lines", "amount"

    mode = forms.ChoiceField(
        label=_("Refund"),
        choices=[(BY_LINES, _("Items")), (BY_AMOUNT, _("An amount"))],
        widget=forms.RadioSelect,
        initial=BY_LINES,
    )
    amount = YuanField(label=_("Amount (¥)"), required=False)
    restock = forms.BooleanField(
        label=_("The goods came back: put them back in stock"), required=False, initial=True
    )
    reason = forms.CharField(
        label=_("Reason (staff only)"),
        max_length=200,
        help_text=_("An internal note: the shopper does not see it."),
    )
    shopper_note = forms.CharField(
        label=_("Message to the shopper"),
        max_length=200,
        required=False,
        help_text=_("Optional. Shown on the shopper's order page; without it they see “Refunded”."),
    )
    key = forms.RegexField(regex=UUID_RE, widget=forms.HiddenInput())

    def __init__(self, *args, lines, restockable: bool = True, **kwargs):
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("key", str(uuid.uuid4()))
        super().__init__(*args, **kwargs)
        if not restockable:  # sold from no store's stock: nothing can go back into stock
            del self.fields["restock"]
        self.lines = list(lines)
        for line in self.lines:
            # No upper bound here: the refund service says how many are left (refund_exceeds_quantity).
            self.fields[f"qty_{line.pk}"] = forms.IntegerField(
                label=line.name,
                min_value=0,
                required=False,
                widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": "0", "step": "1"}),
            )

    def line_fields(self):
        return [(line, self[f"qty_{line.pk}"]) for line in self.lines]

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise ValidationError(_("Say why."))
        return reason

    def clean(self):
        d = super().clean()
        if d.get("mode") == self.BY_AMOUNT:
            if "amount" not in self.errors and not d.get("amount"):
                self.add_error("amount", _("Give the amount to refund."))
        elif d.get("mode") == self.BY_LINES and not self.errors and not self.refund_lines():
            raise ValidationError(_("Give the quantity to refund of at least one item."))
        return d

    def refund_lines(self) -> list[dict]:
        d = self.cleaned_data
        return [
            {"line": line.pk, "quantity": d[f"qty_{line.pk}"]}
            for line in self.lines
            if d.get(f"qty_{line.pk}")
        ]

    def service_kwargs(self) -> dict:
        """What refund_create takes besides brand, staff, actor, order, key and fingerprint."""
        d = self.cleaned_data
        kwargs = {
            "restock": d.get("restock", False),
            "reason": d["reason"],
            "shopper_note": d["shopper_note"],
        }
        if d["mode"] == self.BY_AMOUNT:
            kwargs["amount_fen"] = d["amount"]
            kwargs["restock"] = False
        else:
            kwargs["lines"] = self.refund_lines()
        return kwargs


class TakingsFilterForm(forms.Form):
    store = forms.TypedChoiceField(label=_("Store"), required=False, coerce=int, empty_value=None)
    date_from = forms.DateField(label=_("From"), required=False, widget=_DateInput())
    date_to = forms.DateField(label=_("Until"), required=False, widget=_DateInput())

    def __init__(self, *args, stores, all_stores: bool, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(s.pk, s.name) for s in stores]
        self.fields["store"].choices = [("", _("All stores")), *choices] if all_stores else choices
        self.fields["store"].required = not all_stores

    def clean(self):
        d = super().clean()
        start, end = d.get("date_from"), d.get("date_to")
        if start and end:
            if start > end:
                self.add_error("date_to", _("The end date is before the start date."))
            elif (end - start).days >= MAX_RANGE_DAYS:
                self.add_error("date_to", _("Choose at most %(n)s days.") % {"n": MAX_RANGE_DAYS})
        return d
