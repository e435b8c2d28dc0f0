"""Forms of the red packet mobile pages. They only validate and convert input (yuan typed by people
to integer fen, exactly, through Decimal; one-time idempotency keys); services write."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from redpackets.models import RedPacket
from retail.form_keys import UUID_RE
from retail.money import YuanField

# The red packet pages' own wording of a bad amount (their amounts start at ¥0.01).
AMOUNT_ERRORS = {
    "invalid": _("Enter an amount in yuan, e.g. 8.88."),
    "max_digits": _("This amount is too large."),
    "min_value": _("Enter at least ¥0.01."),
    "max_value": _("This amount is too large."),
}


def _amount(label) -> YuanField:
    """An amount typed in yuan ("12.34"), cleaned to integer fen: at least ¥0.01."""
    return YuanField(label=label, required=False, min_fen=1, error_messages=AMOUNT_ERRORS)


class KeyField(forms.RegexField):
    """The hidden one-time key a money-moving form carries (a replay returns the first result)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("widget", forms.HiddenInput)
        kwargs.setdefault("error_messages", {"required": _("This form has expired: please try again.")})
        super().__init__(UUID_RE, **kwargs)
        self.error_messages["invalid"] = _("This form has expired: please try again.")


class ClaimForm(forms.Form):
    key = KeyField()


class BindForm(forms.Form):
    account_no = forms.CharField(
        label=_("Mobile number or email"),
        max_length=64,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "inputmode": "email", "placeholder": "139 0000 0000"}
        ),
        help_text=_("Your account at the payout provider (e.g. Alipay)."),
    )
    real_name = forms.CharField(
        label=_("Real name"),
        max_length=64,
        help_text=_(
            "Must be the name on your staff record; the provider checks the account is in this name."
        ),
    )

    def clean_account_no(self) -> str:
        return "".join(self.cleaned_data["account_no"].split())


class WithdrawForm(forms.Form):
    """Step one: how much (or everything that may be withdrawn today)."""

    amount = _amount(_("Amount (¥)"))
    all = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def clean(self):
        data = super().clean()
        if not data.get("all") and data.get("amount") is None and "amount" not in self.errors:
            self.add_error("amount", _("Enter how much to withdraw."))
        return data


class WithdrawConfirmForm(forms.Form):
    """Step two: the amount shown on the confirmation screen, with the one-time key."""

    amount_fen = forms.IntegerField(min_value=1, max_value=10**10, widget=forms.HiddenInput)
    key = KeyField()


class AutoWithdrawForm(forms.Form):
    on = forms.ChoiceField(choices=[("1", _("On")), ("0", _("Off"))])


class SendForm(forms.Form):
    """A red packet from the pool: fixed or lucky, to one person, a store or chosen people."""

    kind = forms.ChoiceField(
        label=_("Type"),
        choices=RedPacket.Kind.choices,
        widget=forms.RadioSelect,
        initial=RedPacket.Kind.LUCKY,
    )
    audience = forms.ChoiceField(
        label=_("To"),
        choices=RedPacket.Audience.choices,
        widget=forms.RadioSelect,
        initial=RedPacket.Audience.STORE,
    )
    person = forms.TypedChoiceField(
        label=pgettext_lazy("red packet recipient", "Person"), coerce=int, required=False, empty_value=None
    )
    store = forms.TypedChoiceField(label=_("Store"), coerce=int, required=False, empty_value=None)
    staff_ids = forms.TypedMultipleChoiceField(
        label=_("People"), coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )
    amount_each = _amount(_("Amount each (¥)"))
    total = _amount(_("Total (¥)"))
    shares = forms.IntegerField(
        label=_("Shares"),
        required=False,
        min_value=1,
        max_value=10_000,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "placeholder": _("One each")}),
        help_text=_("Leave empty for one share per person; fewer shares: first come, first served."),
    )
    greeting = forms.CharField(
        label=_("Greeting"),
        required=False,
        max_length=60,
        widget=forms.TextInput(attrs={"placeholder": _("Best wishes!"), "autocomplete": "off"}),
    )
    expires_in_hours = forms.IntegerField(
        label=_("Expires after (hours)"),
        min_value=1,
        max_value=720,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
        help_text=_("Unclaimed money goes back to the pool."),
    )
    key = KeyField()

    def __init__(self, *args, people=(), stores=(), **kwargs):
        super().__init__(*args, **kwargs)
        people_choices = [(p.pk, p.name) for p in people]
        self.fields["person"].choices = [("", _("Choose a person")), *people_choices]
        self.fields["staff_ids"].choices = people_choices
        self.fields["store"].choices = [("", _("Choose a store")), *[(s.pk, s.name) for s in stores]]

    def clean(self):
        data = super().clean()
        kind, audience = data.get("kind"), data.get("audience")
        if (
            kind == RedPacket.Kind.FIXED
            and data.get("amount_each") is None
            and "amount_each" not in self.errors
        ):
            self.add_error("amount_each", _("Enter the amount each person gets."))
        if kind == RedPacket.Kind.LUCKY and data.get("total") is None and "total" not in self.errors:
            self.add_error("total", _("Enter the total to share out."))
        if audience == RedPacket.Audience.PERSON and not data.get("person") and "person" not in self.errors:
            self.add_error("person", _("Choose who receives it."))
        if audience == RedPacket.Audience.STORE and not data.get("store") and "store" not in self.errors:
            self.add_error("store", _("Choose a store."))
        if (
            audience == RedPacket.Audience.GROUP
            and not data.get("staff_ids")
            and "staff_ids" not in self.errors
        ):
            self.add_error("staff_ids", _("Choose who receives it."))
        return data

    def service_kwargs(self) -> dict:
        """The cleaned form as packet_send's keyword arguments (also what the fingerprint covers)."""
        d = self.cleaned_data
        fixed = d["kind"] == RedPacket.Kind.FIXED
        out = {
            "kind": d["kind"],
            "audience": d["audience"],
            "greeting": d.get("greeting") or "",
            "shares": d.get("shares"),
            "expires_in_hours": d["expires_in_hours"],
            "amount_each_fen": d.get("amount_each") if fixed else None,
            "total_fen": None if fixed else d.get("total"),
            "staff_ids": None,
            "store_id": None,
        }
        if d["audience"] == RedPacket.Audience.PERSON:
            out["staff_ids"] = [d["person"]]
        elif d["audience"] == RedPacket.Audience.GROUP:
            out["staff_ids"] = sorted(d["staff_ids"])
        else:
            out["store_id"] = d["store"]
        return out

    def error_fields(self) -> dict[str, str]:
        """Where a service error about a service field belongs on this form."""
        audience = self.cleaned_data.get("audience")
        fixed = self.cleaned_data.get("kind") == RedPacket.Kind.FIXED
        people = "person" if audience == RedPacket.Audience.PERSON else "staff_ids"
        return {
            "amount_each_fen": "amount_each",
            "total_fen": "amount_each" if fixed else "total",
            "staff_ids": "store" if audience == RedPacket.Audience.STORE else people,
            "store_id": "store",
        }
