"""Forms of the commission pages of the brand dashboard. They only validate and convert input
(yuan to integer fen, "5.5" % to basis points, local days to instants in the brand's commission
time zone); services write and check the rest."""

from __future__ import annotations

import datetime
import zoneinfo
from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from guides.models import (
    TOUCH_WINDOW_MAX_DAYS,
    AttributionRule,
    Channel,
    CommissionRule,
    CommissionSettings,
    Precedence,
)
from retail.form_keys import KeyedForm
from retail.money import PLAIN_AMOUNT, YuanField, yuan_input

REPORT_MAX_DAYS = 366
# Time zones offered for settlement periods (the brand's own stays in the list whatever it is).
TIMEZONES = [
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Macau",
    "Asia/Taipei",
    "Asia/Singapore",
    "Asia/Kuala_Lumpur",
    "Asia/Bangkok",
    "Asia/Jakarta",
    "Asia/Tokyo",
    "Asia/Seoul",
    "Asia/Dubai",
    "Europe/London",
    "Europe/Paris",
    "America/New_York",
    "America/Los_Angeles",
    "Australia/Sydney",
    "UTC",
]


def local_midnight(day: datetime.date, tz: str) -> datetime.datetime:
    """The instant a local day starts in ``tz``."""
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=zoneinfo.ZoneInfo(tz))


def local_today(tz: str) -> datetime.date:
    return timezone.now().astimezone(zoneinfo.ZoneInfo(tz)).date()


def bp_to_percent(bp: int) -> str:
    """Basis points as the text a percentage field shows: 550 -> "5.5"."""
    text = f"{Decimal(int(bp)) / 100:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


class _DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class PercentField(forms.DecimalField):
    """A percentage typed as "5.5" (or "5.5%"), cleaned to integer basis points exactly (Decimal,
    never float); above 0, at most 100, at most two decimals (0.01 % = 1 basis point)."""

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "widget",
            forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", "placeholder": "5.5"}),
        )
        super().__init__(
            max_digits=5, decimal_places=2, min_value=Decimal("0.01"), max_value=Decimal("100"), **kwargs
        )
        self.error_messages["invalid"] = _("Enter a percentage, e.g. 5.5.")
        self.error_messages["max_decimal_places"] = _("Use at most 2 decimals.")

    def to_python(self, value):
        if isinstance(value, str):
            value = value.strip().replace("％", "").replace("%", "").strip()
            if value and not PLAIN_AMOUNT.fullmatch(value):
                raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)

    def clean(self, value):
        pct = super().clean(value)
        return None if pct is None else int((pct * 100).to_integral_value())


def _yuan(label, *, required: bool = False, max_fen: int = 10**10, min_fen: int = 1, help_text=""):
    return YuanField(label=label, required=required, min_fen=min_fen, max_fen=max_fen, help_text=help_text)


# --- reports ---------------------------------------------------------------------------------------


class ReportFilterForm(forms.Form):
    """The reports' date range (local days, both included), a store and a guide to drill into."""

    date_from = forms.DateField(label=_("From"), required=False, widget=_DateInput())
    date_to = forms.DateField(label=_("Until"), required=False, widget=_DateInput())
    store = forms.TypedChoiceField(label=_("Store"), required=False, coerce=int, empty_value=None)
    guide = forms.IntegerField(required=False, min_value=1, max_value=2**62, widget=forms.HiddenInput())

    def __init__(self, *args, stores, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].choices = [("", _("All stores")), *[(s.pk, s.name) for s in stores]]

    def clean(self):
        d = super().clean()
        start, end = d.get("date_from"), d.get("date_to")
        if start and end:
            if start > end:
                self.add_error("date_to", _("The end date is before the start date."))
            elif (end - start).days >= REPORT_MAX_DAYS:
                self.add_error("date_to", _("Choose at most %(n)s days.") % {"n": REPORT_MAX_DAYS})
        return d


# --- commission rules ----------------------------------------------------------------------------


class CommissionRuleForm(forms.Form):
    """A commission rule: a percentage or a fixed amount per unit, for a SKU, a category or all goods,
    one channel or all, from a local day (blank: now) until the end of a local day (blank: open)."""

    name = forms.CharField(
        label=_("Rule name"),
        max_length=80,
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": _("e.g. Skin care 5 %")}),
    )
    kind = forms.ChoiceField(
        label=pgettext_lazy("commission rule", "Kind"),
        choices=CommissionRule.Kind.choices,
        initial=CommissionRule.Kind.PERCENT,
        widget=forms.RadioSelect,
    )
    rate = PercentField(label=_("Rate (%)"), required=False, help_text=_("Of what was paid for the line."))
    fixed = _yuan(_("Amount per unit (¥)"), max_fen=10**9)
    cap = _yuan(_("Cap per line (¥)"), help_text=_("Optional: the most one order line can earn."))
    channel = forms.ChoiceField(label=_("Channel"), required=False)
    category = forms.TypedChoiceField(label=_("Category"), required=False, coerce=int, empty_value=None)
    sku_code = forms.CharField(
        label=_("SKU code"),
        max_length=64,
        required=False,
        help_text=_("Type or pick a code; a SKU rule beats a category rule."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "list": "sku-codes", "spellcheck": "false"}),
    )
    effective_from = forms.DateField(
        label=_("In force from"),
        required=False,
        widget=_DateInput(),
        help_text=_("From the start of that day. Blank: now."),
    )
    effective_to = forms.DateField(
        label=_("Last day in force"),
        required=False,
        widget=_DateInput(),
        help_text=_("Until the end of that day. Blank: until ended."),
    )

    def __init__(self, *args, categories, skus, tz: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.tz = tz
        self.fields["channel"].choices = [("", _("Every channel")), *Channel.choices]
        self.fields["category"].choices = [("", _("Every category")), *[(c.pk, c.name) for c in categories]]
        self.skus = {s.code.casefold(): s for s in skus}

    def clean_name(self):
        return self.cleaned_data["name"].strip()

    def clean_sku_code(self):
        code = self.cleaned_data["sku_code"].strip()
        if not code:
            return None
        sku = self.skus.get(code.casefold())
        if sku is None:
            raise forms.ValidationError(_("No SKU of the brand has this code."), code="not_found")
        return sku

    def clean(self):
        d = super().clean()
        kind = d.get("kind")
        if kind == CommissionRule.Kind.PERCENT and d.get("rate") is None and "rate" not in self.errors:
            self.add_error("rate", _("Enter the rate, e.g. 5.5."))
        if kind == CommissionRule.Kind.FIXED and d.get("fixed") is None and "fixed" not in self.errors:
            self.add_error("fixed", _("Enter the amount per unit."))
        if d.get("sku_code") and d.get("category"):
            self.add_error("sku_code", _("Choose a SKU or a category, not both."))
        start, end = d.get("effective_from"), d.get("effective_to")
        if start and end and end < start:
            self.add_error("effective_to", _("The last day is before the first day."))
        return d

    def data_for_service(self) -> dict:
        d = self.cleaned_data
        percent = d["kind"] == CommissionRule.Kind.PERCENT
        start, end = d.get("effective_from"), d.get("effective_to")
        return {
            "name": d["name"],
            "kind": d["kind"],
            "rate_bp": d["rate"] if percent else 0,
            "fixed_fen": 0 if percent else d["fixed"],
            "cap_fen": d.get("cap"),
            "channel": d.get("channel") or "",
            "sku": d["sku_code"].pk if d.get("sku_code") else None,
            "category": d.get("category"),
            "effective_from": local_midnight(start, self.tz) if start else None,
            "effective_to": local_midnight(end + datetime.timedelta(days=1), self.tz) if end else None,
        }

    @staticmethod
    def error_rename() -> dict[str, str]:
        return {"rate_bp": "rate", "fixed_fen": "fixed", "cap_fen": "cap", "sku": "sku_code"}


# --- attribution rules ---------------------------------------------------------------------------


def _precedence(label) -> forms.ChoiceField:
    return forms.ChoiceField(label=label, choices=Precedence.choices)


class AttributionRuleForm(forms.Form):
    """A new version of the attribution rules (starting from the current one's values)."""

    cloud_store = _precedence(_("Cloud store"))
    flagship = _precedence(_("Online flagship"))
    pos = _precedence(_("Store POS"))
    touch_window_days = forms.IntegerField(
        label=_("A share link counts for (days)"),
        min_value=1,
        max_value=TOUCH_WINDOW_MAX_DAYS,
        widget=forms.NumberInput(
            attrs={"inputmode": "numeric", "min": "1", "max": str(TOUCH_WINDOW_MAX_DAYS), "step": "1"}
        ),
    )
    min_order = _yuan(
        _("No commission below (¥)"), min_fen=0, help_text=_("Orders paid below this earn nothing.")
    )
    dual_credit_store = forms.BooleanField(
        label=_("An online order also counts for the credited guide's store (reports)"), required=False
    )
    exclude_staff_purchases = forms.BooleanField(
        label=_("No commission on purchases by the brand's staff"), required=False
    )
    effective_from = forms.DateField(
        label=_("In force from"),
        required=False,
        widget=_DateInput(),
        help_text=_("From the start of that day. Blank: now."),
    )
    note = forms.CharField(
        label=_("Note"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": _("Why the rules change")}),
    )

    def __init__(self, *args, tz: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.tz = tz

    @staticmethod
    def initial_from(row: AttributionRule) -> dict:
        return {
            "cloud_store": row.cloud_store,
            "flagship": row.flagship,
            "pos": row.pos,
            "touch_window_days": row.touch_window_days,
            "min_order": yuan_input(row.min_order_fen),
            "dual_credit_store": row.dual_credit_store,
            "exclude_staff_purchases": row.exclude_staff_purchases,
        }

    def clean_note(self):
        return self.cleaned_data["note"].strip()

    def data_for_service(self) -> tuple[dict, datetime.datetime | None]:
        d = self.cleaned_data
        data = {
            "cloud_store": d["cloud_store"],
            "flagship": d["flagship"],
            "pos": d["pos"],
            "touch_window_days": d["touch_window_days"],
            "dual_credit_store": d["dual_credit_store"],
            "exclude_staff_purchases": d["exclude_staff_purchases"],
            "min_order_fen": d.get("min_order") or 0,
            "note": d["note"],
        }
        start = d.get("effective_from")
        return data, (local_midnight(start, self.tz) if start else None)

    @staticmethod
    def error_rename() -> dict[str, str]:
        return {"min_order_fen": "min_order"}


class ReattributeForm(forms.Form):
    """Attribute the orders paid on these local days again, under the rules in force now."""

    date_from = forms.DateField(label=_("Orders paid from"), widget=_DateInput())
    date_to = forms.DateField(label=_("Until (included)"), widget=_DateInput())
    reason = forms.CharField(
        label=_("Reason"),
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": _("e.g. New rules from June")}),
    )

    def __init__(self, *args, tz: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.tz = tz

    def clean_reason(self):
        return self.cleaned_data["reason"].strip()

    def clean(self):
        d = super().clean()
        if d.get("date_from") and d.get("date_to") and d["date_to"] < d["date_from"]:
            self.add_error("date_to", _("The end date is before the start date."))
        return d

    def span(self) -> tuple[datetime.datetime, datetime.datetime]:
        d = self.cleaned_data
        return local_midnight(d["date_from"], self.tz), local_midnight(
            d["date_to"] + datetime.timedelta(days=1), self.tz
        )

    @staticmethod
    def error_rename() -> dict[str, str]:
        return {"start": "date_from", "end": "date_to"}


# --- settlement ----------------------------------------------------------------------------------


class SettlementSettingsForm(forms.Form):
    period = forms.ChoiceField(
        label=_("Settlement period"), choices=CommissionSettings.Period.choices, widget=forms.RadioSelect
    )
    timezone = forms.ChoiceField(label=_("Time zone"), help_text=_("Periods start and end at midnight here."))
    greeting = forms.CharField(
        label=_("Red packet greeting"),
        max_length=60,
        required=False,
        help_text=_("Blank: “Commission” and the period."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    def __init__(self, *args, current_tz: str, **kwargs):
        super().__init__(*args, **kwargs)
        zones = TIMEZONES if current_tz in TIMEZONES else [current_tz, *TIMEZONES]
        self.fields["timezone"].choices = [(z, z) for z in zones]

    def clean_greeting(self):
        return self.cleaned_data["greeting"].strip()


class HoldForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": _("Why it is held")}),
    )


class ApproveForm(KeyedForm):
    """Approving a period pays money: a one-time key, so that a double submit approves once."""
