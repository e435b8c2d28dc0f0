"""Forms of the attendance console pages: they validate and convert input; attendance.services and
attendance.records check the rest (roles, ranges, the brand)."""

from __future__ import annotations

from datetime import date, datetime

from django import forms
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from attendance.models import AccessRecord, AttendancePolicy, DayRecord
from retail.form_keys import KeyedForm

REASON_MAX = 200


class PolicyForm(forms.Form):
    match_threshold = forms.FloatField(
        label=_("Match threshold"),
        min_value=0.2,
        max_value=0.6,
        help_text=_(
            "A face matches when its distance to an enrolled face is at most this. Lower is stricter. "
            "The face model is weaker on East Asian faces: keep it near 0.45 unless the calibration page "
            "shows otherwise."
        ),
        widget=forms.NumberInput(attrs={"step": "0.01"}),
    )
    match_margin = forms.FloatField(
        label=_("Margin over the second best"),
        min_value=0.0,
        max_value=0.3,
        help_text=_("At a kiosk the best match must be nearer than anyone else's by at least this."),
        widget=forms.NumberInput(attrs={"step": "0.01"}),
    )
    phone_face = forms.ChoiceField(
        label=_("Face check on phones"),
        choices=AttendancePolicy.PhoneFace.choices,
        widget=forms.RadioSelect,
    )
    retention_days = forms.IntegerField(
        label=_("Keep punches and access records (days)"),
        min_value=31,
        max_value=3650,
        help_text=_("Older punches, day records and access records are deleted every night."),
    )

    @classmethod
    def initial_from(cls, policy: AttendancePolicy) -> dict:
        return {
            "match_threshold": policy.match_threshold,
            "match_margin": policy.match_margin,
            "phone_face": policy.phone_face,
            "retention_days": policy.retention_days,
        }


class ConsentTextForm(KeyedForm):
    title = forms.CharField(label=_("Title"), max_length=100)
    body = forms.CharField(
        label=_("Text"),
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 12}),
        help_text=_(
            "What is collected (face encodings, never photos), why, where it is kept, for how long, "
            "and how to withdraw. Staff who agreed to an earlier version are asked again."
        ),
    )


class FaceDeleteForm(KeyedForm):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=REASON_MAX,
        help_text=_("Kept in the audit log, for example “asked by the employee”."),
    )


class ShiftForm(forms.Form):
    name = forms.CharField(label=pgettext_lazy("name of a shift", "Name"), max_length=40)
    start = forms.TimeField(label=_("Starts"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    end = forms.TimeField(
        label=_("Ends"),
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text=_("An end before the start ends the next morning."),
    )
    late_grace_minutes = forms.IntegerField(label=_("Late after (minutes)"), min_value=0, max_value=120)
    early_grace_minutes = forms.IntegerField(
        label=_("Early leave before (minutes)"), min_value=0, max_value=120
    )
    active = forms.BooleanField(label=_("In use"), required=False)

    @classmethod
    def initial_from(cls, shift) -> dict:
        return {
            "name": shift.name,
            "start": shift.start,
            "end": shift.end,
            "late_grace_minutes": shift.late_grace_minutes,
            "early_grace_minutes": shift.early_grace_minutes,
            "active": shift.active,
        }


class ShiftCreateForm(KeyedForm, ShiftForm):
    pass


class BulkScheduleForm(forms.Form):
    """Put the ticked people on a shift (or off the schedule) on the ticked days of the week shown."""

    staff = forms.TypedMultipleChoiceField(label=_("People"), coerce=int, widget=forms.CheckboxSelectMultiple)
    days = forms.TypedMultipleChoiceField(
        label=_("Days"), coerce=date.fromisoformat, widget=forms.CheckboxSelectMultiple
    )
    shift = forms.ChoiceField(label=_("Shift"))

    def __init__(self, *args, people=(), week=(), shifts=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["staff"].choices = [(p.pk, p.name) for p in people]
        self.fields["days"].choices = [(d.isoformat(), date_format(d, "D m-d")) for d in week]
        self.fields["shift"].choices = [("", _("No shift (clear)"))] + [(str(s.pk), str(s)) for s in shifts]
        self.fields["shift"].required = False


class CorrectionForm(KeyedForm):
    first_in = forms.TimeField(
        label=_("Clock-in"), required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    in_next_day = forms.BooleanField(label=_("Next day"), required=False)
    last_out = forms.TimeField(
        label=_("Clock-out"), required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    out_next_day = forms.BooleanField(label=_("Next day"), required=False)
    status = forms.ChoiceField(label=_("Status"), required=False)
    reason = forms.CharField(label=_("Reason"), max_length=REASON_MAX)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", _("Judge from the times"))] + [
            (v, label) for v, label in DayRecord.Status.choices if v != DayRecord.Status.PENDING
        ]

    def clean(self):
        data = super().clean()
        if not self.errors and not (data.get("first_in") or data.get("last_out") or data.get("status")):
            raise forms.ValidationError(_("Change a time or the status."), code="nothing")
        return data


class RecordFilterForm(forms.Form):
    """Filters of a store's day records; bad values are ignored."""

    status = forms.ChoiceField(required=False)
    q = forms.CharField(required=False, max_length=64)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [
            ("", _("All statuses")),
            ("corrected", _("Corrected")),
            *DayRecord.Status.choices,
        ]

    def values(self) -> dict:
        if not self.is_bound or not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v}


class AccessFilterForm(forms.Form):
    result = forms.ChoiceField(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["result"].choices = [
            ("", _("All results")),
            ("refused", _("Refusals only")),
            *AccessRecord.Result.choices,
        ]

    def value(self) -> str:
        if not self.is_bound or not self.is_valid():
            return ""
        return self.cleaned_data["result"]


def parse_month(value: str | None, today: date) -> tuple[int, int] | None:
    """``YYYY-MM`` (this month when empty); None when it is not a month."""
    if not value:
        return today.year, today.month
    try:
        d = datetime.strptime(value, "%Y-%m")
    except (TypeError, ValueError):
        return None
    if not 2000 <= d.year <= 2100:
        return None
    return d.year, d.month
