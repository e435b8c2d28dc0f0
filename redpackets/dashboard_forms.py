"""Forms of the red packet pages of the brand dashboard. They only validate and convert input
(yuan to integer fen, ids to the choices the viewer may reach); services write and check the rest."""

from __future__ import annotations

from django import forms
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from redpackets.models import RedPacket, Settings
from redpackets.services.funding import TOPUP_MAX_FEN
from retail.form_keys import KeyedForm
from retail.money import MAX_FEN, YuanField, yuan_input

P = RedPacket


def _yuan_field(label, *, max_fen: int = MAX_FEN, required: bool = True, help_text: str = "") -> YuanField:
    return YuanField(label=label, required=required, min_fen=1, max_fen=max_fen, help_text=help_text)


class TopUpForm(KeyedForm):
    amount = _yuan_field(_("Amount (¥)"), max_fen=TOPUP_MAX_FEN)

    field_order = ["amount", "key"]


class SendForm(KeyedForm):
    """A red packet from the pool: fixed or lucky; to one person, a store's staff or chosen people."""

    kind = forms.ChoiceField(
        label=_("Kind"), choices=P.Kind.choices, initial=P.Kind.FIXED, widget=forms.RadioSelect
    )
    audience = forms.ChoiceField(
        label=_("To"), choices=P.Audience.choices, initial=P.Audience.PERSON, widget=forms.RadioSelect
    )
    person = forms.TypedChoiceField(
        label=pgettext_lazy("red packet recipient", "Person"), coerce=int, required=False, empty_value=None
    )
    store = forms.TypedChoiceField(label=_("Store"), coerce=int, required=False, empty_value=None)
    people = forms.TypedMultipleChoiceField(
        label=_("People"), coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )
    amount_each = _yuan_field(_("Amount each (¥)"), required=False)
    total = _yuan_field(
        _("Total amount (¥)"), required=False, help_text=_("Split at random between the shares.")
    )
    shares = forms.IntegerField(
        label=_("Shares"),
        required=False,
        min_value=1,
        max_value=10_000,
        help_text=_("Leave empty for one per person. Fewer shares than people: first come, first served."),
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": "1", "step": "1"}),
    )
    greeting = forms.CharField(
        label=_("Greeting"),
        max_length=60,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": _("Best wishes!"), "autocomplete": "off"}),
    )
    expires_in_hours = forms.IntegerField(
        label=_("Expires after (hours)"),
        min_value=1,
        max_value=720,
        help_text=_("Unclaimed money then returns to the pool."),
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": "1", "max": "720", "step": "1"}),
    )

    def __init__(self, *args, people, stores, default_hours: int, **kwargs):
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("expires_in_hours", default_hours)
        super().__init__(*args, **kwargs)
        self.people_rows = list(people)
        choices = [(s.pk, s.name) for s in self.people_rows]
        self.fields["person"].choices = [("", _("Choose a person"))] + choices
        self.fields["people"].choices = choices
        self.fields["store"].choices = [("", _("Choose a store"))] + [
            (s.pk, f"{s.name} ({s.code})") for s in stores
        ]

    def clean_greeting(self):
        return self.cleaned_data["greeting"].strip()

    def clean(self):
        data = super().clean()
        kind, audience = data.get("kind"), data.get("audience")
        if kind == P.Kind.FIXED and data.get("amount_each") is None and "amount_each" not in self.errors:
            self.add_error("amount_each", _("Enter the amount each person gets."))
        if kind == P.Kind.LUCKY and data.get("total") is None and "total" not in self.errors:
            self.add_error("total", _("Enter the total to split."))
        if audience == P.Audience.PERSON and not data.get("person") and "person" not in self.errors:
            self.add_error("person", _("Choose who receives it."))
        if audience == P.Audience.STORE and not data.get("store") and "store" not in self.errors:
            self.add_error("store", _("Choose a store."))
        if audience == P.Audience.GROUP and not data.get("people") and "people" not in self.errors:
            self.add_error("people", _("Tick the people who receive it."))
        return data

    def service_kwargs(self) -> dict:
        """What packet_send takes, from the cleaned data (only the chosen kind's and audience's fields)."""
        d = self.cleaned_data
        kw: dict = {
            "kind": d["kind"],
            "audience": d["audience"],
            "greeting": d["greeting"],
            "shares": d.get("shares"),
            "expires_in_hours": d["expires_in_hours"],
        }
        if d["kind"] == P.Kind.FIXED:
            kw["amount_each_fen"] = d["amount_each"]
        else:
            kw["total_fen"] = d["total"]
        if d["audience"] == P.Audience.STORE:
            kw["store_id"] = d["store"]
        elif d["audience"] == P.Audience.PERSON:
            kw["staff_ids"] = [d["person"]]
        else:
            kw["staff_ids"] = sorted(set(d["people"]))
        return kw

    def error_rename(self) -> dict[str, str]:
        """Where a service error about a field shows on this form."""
        fixed = self.cleaned_data.get("kind") == P.Kind.FIXED
        audience = self.cleaned_data.get("audience")
        return {
            "amount_each_fen": "amount_each",
            # The pool, the daily limit and the largest packet speak of the total: for a fixed
            # packet that is the amount each times the shares.
            "total_fen": "amount_each" if fixed else "total",
            "staff_ids": "person" if audience == P.Audience.PERSON else "people",
            "store_id": "store",
            "key": "__all__",
        }


SETTINGS_MONEY = ("packet_max", "share_max", "daily_send_max", "withdraw_min", "withdraw_daily_max")
SETTINGS_COUNTS = ("max_shares", "withdraw_daily_count", "default_expiry_hours")


def _count_field(name: str, low: int, high: int) -> forms.IntegerField:
    return forms.IntegerField(
        label=capfirst(Settings._meta.get_field(name).verbose_name),
        min_value=low,
        max_value=high,
        widget=forms.NumberInput(
            attrs={"inputmode": "numeric", "min": str(low), "max": str(high), "step": "1"}
        ),
    )


class SettingsForm(forms.Form):
    """The brand's limits; amounts in yuan here, in fen in the database."""

    packet_max = _yuan_field(_("Largest packet (¥)"), help_text=_("The most one red packet may hold in all."))
    share_max = _yuan_field(
        _("Largest share (¥)"), help_text=_("The most one person may get from one packet.")
    )
    daily_send_max = _yuan_field(
        _("Sent per sender per day (¥)"), help_text=_("Over any 24 hours, per manager who sends.")
    )
    max_shares = _count_field("max_shares", 1, 10_000)
    default_expiry_hours = _count_field("default_expiry_hours", 1, 720)
    withdraw_min = _yuan_field(_("Smallest withdrawal (¥)"))
    withdraw_daily_max = _yuan_field(_("Withdrawn per person per day (¥)"))
    withdraw_daily_count = _count_field("withdraw_daily_count", 1, 1000)

    @classmethod
    def initial_from(cls, row: Settings) -> dict:
        initial = {name: yuan_input(getattr(row, f"{name}_fen")) for name in SETTINGS_MONEY}
        initial.update({name: getattr(row, name) for name in SETTINGS_COUNTS})
        return initial

    def clean(self):
        d = super().clean()
        if d.get("share_max") and d.get("packet_max") and d["share_max"] > d["packet_max"]:
            self.add_error("share_max", _("A share cannot be larger than the largest packet."))
        if (
            d.get("withdraw_min")
            and d.get("withdraw_daily_max")
            and d["withdraw_min"] > d["withdraw_daily_max"]
        ):
            self.add_error("withdraw_min", _("The smallest withdrawal is above the daily withdrawal limit."))
        return d

    def data_for_service(self) -> dict:
        d = self.cleaned_data
        data = {f"{name}_fen": d[name] for name in SETTINGS_MONEY}
        data.update({name: d[name] for name in SETTINGS_COUNTS})
        return data

    @staticmethod
    def error_rename() -> dict[str, str]:
        return {f"{name}_fen": name for name in SETTINGS_MONEY}


# The models' "Open" would be translated like an open store; these labels say it of a packet.
PACKET_STATUS_LABELS = {
    P.Status.ACTIVE: pgettext_lazy("red packet status", "Open"),
    P.Status.FINISHED: pgettext_lazy("red packet status", "All claimed"),
    P.Status.EXPIRED: pgettext_lazy("red packet status", "Expired"),
}


class PacketFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("All statuses")), *PACKET_STATUS_LABELS.items()],
    )
