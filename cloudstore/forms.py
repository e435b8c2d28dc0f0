"""Forms of the cloud store's shopper pages. They only validate input; services do the writing."""

from __future__ import annotations

import math
import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from cloudstore.models import Order
from cloudstore.services.cart import MAX_QUANTITY
from members.forms import JoinForm

CHECKOUT_KEY = re.compile(r"^[0-9a-f]{32}$")


class ShopJoinForm(JoinForm):
    """Phone and one-time code (and optional marketing consent): log in, or join if new."""


class ShopLocationForm(forms.Form):
    """Where the shopper is (from the browser's geolocation); anything odd counts as unknown."""

    lat = forms.FloatField(required=False, min_value=-90, max_value=90)
    lng = forms.FloatField(required=False, min_value=-180, max_value=180)

    def position(self) -> tuple[float, float] | None:
        if not self.is_valid():
            return None
        lat, lng = self.cleaned_data.get("lat"), self.cleaned_data.get("lng")
        if lat is None or lng is None or not (math.isfinite(lat) and math.isfinite(lng)):
            return None
        return lat, lng


class ShopCartForm(forms.Form):
    """Add a SKU to the cart, set a line's quantity, or remove it."""

    class Op:
        ADD = "add"
        SET = "set"
        REMOVE = "remove"

    op = forms.ChoiceField(choices=[("add", "add"), ("set", "set"), ("remove", "remove")], initial="add")
    sku = forms.IntegerField(
        label=_("Specification"), min_value=1, error_messages={"required": _("Choose a specification.")}
    )
    qty = forms.IntegerField(
        label=_("Quantity"),
        required=False,
        min_value=0,
        max_value=MAX_QUANTITY,
        error_messages={
            "max_value": _("At most %(limit_value)s of one item."),
            "min_value": _("Enter a quantity."),
            "invalid": _("Enter a whole number."),
        },
    )

    def clean(self):
        data = super().clean()
        op, qty = data.get("op"), data.get("qty")
        if op == self.Op.ADD and not self.has_error("qty"):
            data["qty"] = qty = 1 if qty is None else qty
            if qty < 1:
                self.add_error("qty", _("Enter a quantity."))
        elif op == self.Op.SET and qty is None and not self.has_error("qty"):
            self.add_error("qty", _("Enter a quantity."))
        return data


class ShopCheckoutForm(forms.Form):
    fulfilment = forms.ChoiceField(
        label=_("Delivery"),
        choices=[
            (Order.Fulfilment.PICKUP, _("Pick up in store")),
            (Order.Fulfilment.SHIP, _("Ship to me")),
        ],
        initial=Order.Fulfilment.PICKUP,
        widget=forms.RadioSelect,
    )
    recipient = forms.CharField(
        label=_("Recipient"),
        max_length=64,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    phone = forms.CharField(
        label=_("Phone"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
    )
    address = forms.CharField(
        label=_("Address"),
        max_length=255,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "street-address"}),
    )
    coupon = forms.ChoiceField(label=_("Coupon"), required=False, widget=forms.RadioSelect)
    coupon_code = forms.CharField(
        label=_("Or enter a coupon code"),
        max_length=16,
        required=False,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}
        ),
    )
    note = forms.CharField(label=_("Note to the store"), max_length=200, required=False)
    checkout_key = forms.RegexField(regex=CHECKOUT_KEY, widget=forms.HiddenInput)

    def __init__(self, *args, coupons=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["coupon"].choices = [("", _("No coupon")), *[(c.code, c.code) for c in coupons]]
        self.fields["checkout_key"].error_messages["invalid"] = _("Reload the page and try again.")
        self.fields["checkout_key"].error_messages["required"] = _("Reload the page and try again.")

    def clean(self):
        data = super().clean()
        if data.get("fulfilment") == Order.Fulfilment.SHIP:
            for name in ("recipient", "phone", "address"):
                if not (data.get(name) or "").strip() and not self.has_error(name):
                    self.add_error(name, ValidationError(_("Required for delivery."), code="required"))
        return data

    def coupon_code_value(self) -> tuple[str, str]:
        """(code, field): a typed code wins over a chosen one."""
        typed = (self.cleaned_data.get("coupon_code") or "").strip().upper()
        if typed:
            return typed, "coupon_code"
        return (self.cleaned_data.get("coupon") or ""), "coupon"
