"""Forms of the developer centre. They validate and convert input (one CIDR per line to a list,
ticked scopes and event types to names); the partners and webhooks services check the rest."""

from __future__ import annotations

import ipaddress

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from retail.form_keys import UUID_RE, KeyedForm, new_key

NAME_MAX = 100
ALLOWLIST_MAX = 50
RATE_MIN, RATE_MAX = 1, 100_000
URL_MAX = 500
DESCRIPTION_MAX = 200

# Scope areas in words (the part before the colon of a scope name).
AREA_LABELS = {
    "stores": _("Stores"),
    "staff": _("Staff members"),
    "audit": _("Audit log"),
    "members": _("Members"),
    "points": _("Points"),
    "catalogue": _("Catalogue"),
    "inventory": _("Inventory"),
    "orders": _("Orders"),
    "promotions": _("Promotions"),
    "redpackets": _("Red packets"),
    "commission": _("Commission"),
    "attendance": _("Attendance"),
    "devices": _("Devices"),
    "messages": _("Messages"),
    "webhooks": _("Webhooks"),
}


def scope_catalogue() -> dict:
    from retail.partners.scopes import SCOPES

    return SCOPES


def scope_groups(selected=()) -> list[dict]:
    """The scopes by area, in catalogue order: ``[{"area", "label", "scopes": [{"name",
    "description", "checked"}]}]``."""
    chosen = set(selected or ())
    groups: dict[str, dict] = {}
    for name, description in scope_catalogue().items():
        area = name.split(":", 1)[0]
        group = groups.setdefault(area, {"area": area, "label": AREA_LABELS.get(area, area), "scopes": []})
        group["scopes"].append({"name": name, "description": description, "checked": name in chosen})
    return list(groups.values())


def event_catalogue() -> dict:
    from retail.webhooks.catalogue import event_types

    return event_types()


class ConfirmForm(KeyedForm):
    """Only the one-time key: a button that creates something (a secret, a delivery)."""


class AppForm(forms.Form):
    """A partner app's settings; ``creating`` adds the test mode (fixed once the app exists) and
    the one-time key."""

    name = forms.CharField(
        label=_("App name"),
        max_length=NAME_MAX,
        help_text=_("For example the name of the POS, ERP or shop system that uses it."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    scopes = forms.MultipleChoiceField(
        label=_("Scopes"),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("What the app may read and change. Give it only what it needs."),
    )
    ip_allowlist = forms.CharField(
        label=_("IP allowlist"),
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 4, "spellcheck": "false", "autocomplete": "off", "placeholder": "203.0.113.0/24"}
        ),
        help_text=_("One address or CIDR range per line. Leave empty to accept calls from anywhere."),
    )
    rate_limit_per_minute = forms.IntegerField(
        label=_("Calls per minute"),
        min_value=RATE_MIN,
        max_value=RATE_MAX,
        help_text=_("More calls in one minute are answered 429 until the minute ends."),
        widget=forms.NumberInput(
            attrs={"inputmode": "numeric", "min": str(RATE_MIN), "max": str(RATE_MAX), "step": "1"}
        ),
    )
    test_mode = forms.BooleanField(
        label=_("Test mode"),
        required=False,
        help_text=_(
            "Payments and payouts of a test app go to the simulated providers only, and its webhook "
            "events say livemode false. This cannot be changed later."
        ),
    )
    key = forms.RegexField(regex=UUID_RE, widget=forms.HiddenInput(), required=False)

    def __init__(self, *args, creating: bool, **kwargs):
        kwargs.setdefault("initial", {})
        if creating:
            kwargs["initial"].setdefault("key", new_key())
            kwargs["initial"].setdefault(
                "rate_limit_per_minute", getattr(settings, "PARTNER_DEFAULT_RATE_PER_MINUTE", 600)
            )
        super().__init__(*args, **kwargs)
        self.creating = creating
        self.fields["scopes"].choices = [(name, name) for name in scope_catalogue()]
        if creating:
            self.fields["key"].required = True
        else:
            del self.fields["test_mode"]
            del self.fields["key"]

    @staticmethod
    def initial_from(app) -> dict:
        return {
            "name": app.name,
            "scopes": list(app.scopes or []),
            "ip_allowlist": "\n".join(app.ip_allowlist or []),
            "rate_limit_per_minute": app.rate_limit_per_minute,
        }

    def scope_groups(self) -> list[dict]:
        if self.is_bound:
            selected = self.data.getlist("scopes") if hasattr(self.data, "getlist") else []
        else:
            selected = self.initial.get("scopes") or []
        return scope_groups(selected)

    def clean_name(self):
        return self.cleaned_data["name"].strip()

    def clean_ip_allowlist(self) -> list[str]:
        lines = [line.strip() for line in self.cleaned_data["ip_allowlist"].splitlines()]
        lines = [line for line in lines if line]
        if len(lines) > ALLOWLIST_MAX:
            raise forms.ValidationError(_("At most %(n)s lines.") % {"n": ALLOWLIST_MAX}, code="max_length")
        networks, bad = [], []
        for line in lines:
            try:
                net = ipaddress.ip_network(line, strict=False)
            except ValueError:
                bad.append(line)
                continue
            if str(net) not in networks:
                networks.append(str(net))
        if bad:
            raise forms.ValidationError(
                _("Not an IP address or CIDR range: %(lines)s") % {"lines": "、".join(bad[:5])},
                code="invalid",
            )
        return networks

    def renew_key(self) -> None:
        if not self.creating:
            return
        data = self.data.copy()
        data["key"] = new_key()
        self.data = data

    @staticmethod
    def error_rename() -> dict[str, str]:
        return {"rate_limit": "rate_limit_per_minute", "key": "__all__"}


class EndpointForm(forms.Form):
    """A webhook endpoint: where to post and which events; ``creating`` adds the one-time key."""

    url = forms.URLField(
        label=_("Endpoint URL"),
        max_length=URL_MAX,
        assume_scheme="https",
        help_text=_("Where the events are posted, for example https://erp.example.com/hooks/retail."),
        widget=forms.URLInput(attrs={"autocomplete": "off", "spellcheck": "false", "inputmode": "url"}),
    )
    description = forms.CharField(
        label=pgettext_lazy("webhook endpoint", "Description"),
        max_length=DESCRIPTION_MAX,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    event_types = forms.MultipleChoiceField(label=_("Events"), widget=forms.CheckboxSelectMultiple)
    key = forms.RegexField(regex=UUID_RE, widget=forms.HiddenInput(), required=False)

    def __init__(self, *args, creating: bool, **kwargs):
        kwargs.setdefault("initial", {})
        if creating:
            kwargs["initial"].setdefault("key", new_key())
        super().__init__(*args, **kwargs)
        self.creating = creating
        self.catalogue = event_catalogue()
        self.fields["event_types"].choices = [(name, name) for name in self.catalogue]
        if creating:
            self.fields["key"].required = True
        else:
            del self.fields["key"]

    @staticmethod
    def initial_from(endpoint) -> dict:
        return {
            "url": endpoint.url,
            "description": endpoint.description,
            "event_types": list(endpoint.event_types or []),
        }

    def event_rows(self) -> list[dict]:
        if self.is_bound:
            selected = set(self.data.getlist("event_types") if hasattr(self.data, "getlist") else [])
        else:
            selected = set(self.initial.get("event_types") or [])
        return [
            {"name": name, "description": getattr(e, "description", ""), "checked": name in selected}
            for name, e in self.catalogue.items()
        ]

    def clean_description(self):
        return self.cleaned_data["description"].strip()

    def renew_key(self) -> None:
        if not self.creating:
            return
        data = self.data.copy()
        data["key"] = new_key()
        self.data = data

    @staticmethod
    def error_rename() -> dict[str, str]:
        return {"key": "__all__"}


METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


class ActivityFilterForm(forms.Form):
    app = forms.TypedChoiceField(label=_("App"), coerce=int, required=False, empty_value=None)
    status = forms.ChoiceField(
        label=_("Answer"),
        required=False,
        choices=[
            ("", _("All answers")),
            ("ok", _("Succeeded")),
            ("error", _("Errors (4xx and 5xx)")),
            ("429", _("Rate limited (429)")),
        ],
    )
    method = forms.ChoiceField(
        label=_("Method"), required=False, choices=[("", _("All methods")), *[(m, m) for m in METHODS]]
    )

    def __init__(self, *args, apps, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["app"].choices = [("", _("All apps"))] + [(a.pk, a.name) for a in apps]


class DeliveryFilterForm(forms.Form):
    endpoint = forms.TypedChoiceField(label=_("Endpoint"), coerce=int, required=False, empty_value=None)
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[
            ("", _("All statuses")),
            ("pending", pgettext_lazy("webhook delivery", "Pending")),
            ("succeeded", _("Delivered")),
            ("failed", _("Given up")),
        ],
    )

    def __init__(self, *args, endpoints, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["endpoint"].choices = [("", _("All endpoints"))] + [(e.pk, e.url) for e in endpoints]


def filter_values(form) -> dict:
    """A filter form's valid values (a bad one is left out, as if not given)."""
    if not form.is_bound:
        return {}
    form.is_valid()
    return {k: v for k, v in getattr(form, "cleaned_data", {}).items() if v not in (None, "")}
