"""Forms of the devices console pages. They validate and convert input (door hours as rows of
weekdays and times); devices.services and devices.config check the rest."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from devices.config import LANGUAGES, MAX_WINDOWS
from devices.models import Device, DeviceEvent
from retail.form_keys import KeyedForm

NAME_MAX = 64
LOCATION_MAX = 100
REASON_MAX = 100
MESSAGE_MAX = 200

STATE_CHOICES = [
    ("online", pgettext_lazy("device status", "Online")),
    ("offline", pgettext_lazy("device status", "Offline")),
    ("unpaired", pgettext_lazy("device status", "Not paired")),
    ("disabled", pgettext_lazy("device status", "Disabled")),
]
KIND = pgettext_lazy("kind of device", "Kind")
LANGUAGE_LABELS = {"zh-hans": _("Chinese"), "en": _("English")}
WEEKDAYS = [
    (1, _("Mon")),
    (2, _("Tue")),
    (3, _("Wed")),
    (4, _("Thu")),
    (5, _("Fri")),
    (6, _("Sat")),
    (7, _("Sun")),
]
# The commands a manager may send by hand (open the door has its own form, with a reason).
COMMAND_CHOICES = [
    ("ring", _("Ring")),
    ("show_message", _("Show a message")),
    ("sync", _("Sync staff list")),
]


def _text(label, max_length: int, *, required: bool = True, help_text="", placeholder="") -> forms.CharField:
    attrs = {"autocomplete": "off"}
    if placeholder:
        attrs["placeholder"] = placeholder
    return forms.CharField(
        label=label,
        max_length=max_length,
        required=required,
        help_text=help_text,
        widget=forms.TextInput(attrs=attrs),
    )


class DeviceFilterForm(forms.Form):
    """The device list's filters; a bad value is ignored (the list shows everything instead)."""

    q = forms.CharField(required=False, max_length=64)
    store = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    status = forms.ChoiceField(required=False, choices=[("", _("All states")), *STATE_CHOICES])
    kind = forms.ChoiceField(required=False, choices=[("", _("All kinds")), *Device.Kind.choices])

    def __init__(self, *args, stores=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].choices = [("", _("All stores"))] + [(s.pk, s.name) for s in stores]

    def values(self) -> dict:
        """The valid filters (``store_id``, ``status``, ``kind``, ``q``); invalid ones left out."""
        if not self.is_bound:
            return {}
        self.is_valid()
        d = self.cleaned_data
        out = {
            "store_id": d.get("store"),
            "status": d.get("status") or "",
            "kind": d.get("kind") or "",
            "q": (d.get("q") or "").strip(),
        }
        return {k: v for k, v in out.items() if v}


class DeviceCreateForm(KeyedForm):
    """A new device: the store (one of the viewer's), its name, where it hangs and what it does."""

    store = forms.TypedChoiceField(label=_("Store"), coerce=int)
    name = _text(
        _("Device name"),
        NAME_MAX,
        help_text=_("Unique in the store, for example “Front door” or “Staff room clock-in”."),
    )
    location = _text(
        _("Location"), LOCATION_MAX, required=False, placeholder=_("For example: staff entrance, 1st floor")
    )
    kind = forms.ChoiceField(
        label=KIND,
        choices=Device.Kind.choices,
        initial=Device.Kind.BOTH,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, stores=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.stores = {s.pk: s for s in stores}
        self.fields["store"].choices = [(s.pk, s.name) for s in stores]
        if len(self.stores) == 1:
            self.fields["store"].initial = next(iter(self.stores))


class DeviceEditForm(forms.Form):
    """A device's name, place and kind."""

    name = _text(_("Device name"), NAME_MAX)
    location = _text(_("Location"), LOCATION_MAX, required=False)
    kind = forms.ChoiceField(label=KIND, choices=Device.Kind.choices)

    @classmethod
    def initial_from(cls, device: Device) -> dict:
        return {"name": device.name, "location": device.location, "kind": device.kind}


class SettingsForm(forms.Form):
    """What the device does: how long the door stays open, its volume and language."""

    door_open_seconds = forms.IntegerField(
        label=_("Door stays open (seconds)"),
        min_value=1,
        max_value=30,
        help_text=_("1 to 30 seconds."),
    )
    volume = forms.IntegerField(label=_("Volume"), min_value=0, max_value=100, help_text=_("0 to 100."))
    language = forms.ChoiceField(label=_("Language on the device"), choices=list(LANGUAGE_LABELS.items()))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        assert set(LANGUAGE_LABELS) == set(LANGUAGES)
        for name in ("door_open_seconds", "volume"):
            self.fields[name].widget.attrs["inputmode"] = "numeric"

    @classmethod
    def initial_from(cls, device: Device) -> dict:
        c = device.config or {}
        return {k: c.get(k) for k in ("door_open_seconds", "volume", "language")}


class WindowForm(forms.Form):
    """One row of door hours: the weekdays it applies to, from a start to an end time."""

    days = forms.TypedMultipleChoiceField(
        label=_("Days"),
        choices=WEEKDAYS,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    start = forms.TimeField(
        label=pgettext_lazy("door hours", "From"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    end = forms.TimeField(
        label=pgettext_lazy("door hours", "Until"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )

    def clean(self):
        d = super().clean()
        if self.errors or d.get("DELETE"):
            return d
        days, start, end = d.get("days"), d.get("start"), d.get("end")
        if not days and start is None and end is None:
            return d  # an empty row: ignored
        if not days:
            self.add_error("days", _("Choose at least one day."))
        if start is None:
            self.add_error("start", _("Enter the time the door hours start."))
        if end is None:
            self.add_error("end", _("Enter the time the door hours end."))
        if start is not None and end is not None and start >= end:
            self.add_error("end", _("The end must be later than the start."))
        return d

    def window(self) -> dict | None:
        d = getattr(self, "cleaned_data", {})
        if d.get("DELETE") or not d.get("days"):
            return None
        return {
            "days": sorted(d["days"]),
            "start": d["start"].strftime("%H:%M"),
            "end": d["end"].strftime("%H:%M"),
        }


WindowFormSet = forms.formset_factory(
    WindowForm, extra=1, can_delete=True, max_num=MAX_WINDOWS, absolute_max=30
)


def window_formset(data=None, device: Device | None = None):
    initial = []
    if device is not None:
        initial = [
            {"days": w["days"], "start": w["start"], "end": w["end"]}
            for w in (device.config or {}).get("door_windows", [])
        ]
    return WindowFormSet(data, initial=initial, prefix="w")


def windows_from(formset) -> list[dict]:
    return [w for w in (f.window() for f in formset.forms) if w is not None]


class ConfirmForm(KeyedForm):
    """Only the one-time key: a button that issues a pairing code (shown once)."""


class OpenDoorForm(forms.Form):
    reason = _text(
        _("Reason"), REASON_MAX, placeholder=_("For example: delivery at the back door"), help_text=""
    )


class CommandForm(forms.Form):
    """Ring, show a message on the screen or sync the staff list now."""

    name = forms.ChoiceField(label=_("Command"), choices=COMMAND_CHOICES, widget=forms.RadioSelect)
    text = _text(_("Message"), MESSAGE_MAX, required=False, placeholder=_("Shown on the device's screen"))
    seconds = forms.IntegerField(
        label=_("For (seconds)"), min_value=1, max_value=30, initial=5, required=False
    )

    def clean(self):
        d = super().clean()
        if d.get("name") == "show_message" and not (d.get("text") or "").strip():
            self.add_error("text", _("Enter the message to show."))
        return d

    def payload(self) -> dict:
        d = self.cleaned_data
        seconds = d.get("seconds") or 5
        if d["name"] == "show_message":
            return {"text": d["text"].strip(), "seconds": seconds}
        if d["name"] == "ring":
            return {"seconds": seconds}
        return {}


class EventFilterForm(forms.Form):
    type = forms.ChoiceField(required=False, choices=[("", _("All events")), *DeviceEvent.Type.choices])

    def value(self) -> str:
        if not self.is_bound or not self.is_valid():
            return ""
        return self.cleaned_data.get("type") or ""
