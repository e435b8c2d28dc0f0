"""Forms of the membership pages. They only validate input; services do the writing."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from members import jobs
from members.models import MembershipProgram, Tag, TagRule
from members.selectors import MemberFilters
from retail.money import MAX_YUAN, yuan_to_fen
from retail.phones import normalize_phone

ADJUST_SOURCE = re.compile(r"^adjust:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
MAX_POINTS = 10**9

# --- shopper -------------------------------------------------------------------------------------


class PhoneForm(forms.Form):
    phone = forms.CharField(
        label=_("Mobile phone"),
        max_length=32,
        widget=forms.TextInput(
            attrs={"inputmode": "tel", "autocomplete": "tel", "placeholder": _("11-digit mobile number")}
        ),
    )

    def clean_phone(self):
        return normalize_phone(self.cleaned_data["phone"])


class PhoneCodeForm(PhoneForm):
    code = forms.RegexField(
        label=_("Verification code"),
        regex=r"^\s*\d{6}\s*$",
        max_length=12,
        error_messages={"invalid": _("Enter the 6-digit code from the text message.")},
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                "autocomplete": "one-time-code",
                "maxlength": "6",
                "placeholder": _("6 digits"),
            }
        ),
    )

    def clean_code(self):
        return self.cleaned_data["code"].strip()


class JoinForm(PhoneCodeForm):
    consent = forms.BooleanField(
        label=_("Send me offers and news from this brand"),
        required=False,
        help_text=_("Optional. You can change this at any time on your member page."),
    )
    # The versions of the privacy policy and member agreement the page linked to (rendered from
    # the versions in force, not from the posted data, so a page reloaded after a change is current).
    privacy_version = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput())
    terms_version = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput())

    def agreed(self) -> dict[str, int | None]:
        return {
            "privacy": self.cleaned_data.get("privacy_version"),
            "terms": self.cleaned_data.get("terms_version"),
        }


class PolicyForm(forms.Form):
    body = forms.CharField(
        label=_("Text"),
        max_length=50_000,
        widget=forms.Textarea(attrs={"rows": 18}),
        help_text=_(
            "Saving a changed text puts a new version in force; members who join from then on agree "
            "to it. Earlier versions stay readable at their own addresses."
        ),
    )


class ConsentForm(forms.Form):
    granted = forms.TypedChoiceField(
        choices=[("1", "1"), ("0", "0")], coerce=lambda v: v == "1", empty_value=None
    )


class EraseForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("I understand that my membership, points and history will be deleted for good."),
        error_messages={"required": _("Tick the box to confirm.")},
    )


# --- staff: members ------------------------------------------------------------------------------


class MemberCodeForm(forms.Form):
    code = forms.CharField(
        label=_("Member code"),
        max_length=200,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "autocapitalize": "off",
                "spellcheck": "false",
                "autofocus": True,
                "placeholder": _("Scan, or type the digits under the member's QR"),
            }
        ),
    )


class TagChangeForm(forms.Form):
    add = forms.IntegerField(required=False, min_value=1)
    remove = forms.IntegerField(required=False, min_value=1)

    def clean(self):
        data = super().clean()
        if not self.errors and not data.get("add") and not data.get("remove"):
            raise ValidationError(_("Choose a tag."))
        return data


class _DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class MemberFilterForm(forms.Form):
    """The member list's filters (every field optional), turned into selectors.MemberFilters."""

    q = forms.CharField(label=_("Search"), max_length=100, required=False)
    tags = forms.TypedMultipleChoiceField(label=_("Tags"), required=False, coerce=int)
    tier = forms.TypedChoiceField(label=_("Tier"), required=False, coerce=int, empty_value=None)
    store = forms.TypedChoiceField(label=_("Store"), required=False, coerce=int, empty_value=None)
    guide = forms.TypedChoiceField(label=_("Guide"), required=False, coerce=int, empty_value=None)
    joined_from = forms.DateField(label=_("Joined from"), required=False, widget=_DateInput())
    joined_to = forms.DateField(label=_("Joined until"), required=False, widget=_DateInput())
    purchased_from = forms.DateField(label=_("Last purchase from"), required=False, widget=_DateInput())
    purchased_to = forms.DateField(label=_("Last purchase until"), required=False, widget=_DateInput())

    def __init__(self, *args, tags, tiers, stores, guides, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tags"].choices = [(t.pk, t.name) for t in tags]
        self.fields["tier"].choices = [("", _("All tiers")), *[(t.pk, t.name) for t in tiers]]
        self.fields["store"].choices = [("", _("All stores")), *[(s.pk, s.name) for s in stores]]
        self.fields["guide"].choices = [("", _("All guides")), *[(g.pk, g.name) for g in guides]]

    def clean(self):
        data = super().clean()
        for start, end in (("joined_from", "joined_to"), ("purchased_from", "purchased_to")):
            if data.get(start) and data.get(end) and data[start] > data[end]:
                self.add_error(end, _("The end date is before the start date."))
        return data

    def filters(self) -> MemberFilters:
        """The valid part of the input as selector filters (invalid fields are left out)."""
        d = getattr(self, "cleaned_data", {})
        return MemberFilters(
            q=(d.get("q") or "").strip(),
            tags=list(d.get("tags") or []),
            tier=d.get("tier"),
            store=d.get("store"),
            guide=d.get("guide"),
            joined_from=d.get("joined_from"),
            joined_to=d.get("joined_to"),
            purchased_from=d.get("purchased_from"),
            purchased_to=d.get("purchased_to"),
        )

    def active_count(self) -> int:
        d = getattr(self, "cleaned_data", {})
        return sum(1 for k in self.fields if k != "q" and d.get(k))


def _staff_label(staff) -> str:
    if staff.status == staff.Status.LEFT:
        return _("%(name)s (left)") % {"name": staff.name}
    return staff.name


class StaffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return _staff_label(obj)


class GuideSetForm(forms.Form):
    guide = StaffChoiceField(label=_("Change to"), queryset=None, empty_label=_("Choose a guide"))

    def __init__(self, *args, guides, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["guide"].queryset = guides


class PointsAdjustForm(forms.Form):
    points = forms.IntegerField(
        label=_("Points"),
        min_value=-MAX_POINTS,
        max_value=MAX_POINTS,
        help_text=_("Positive to add, negative to deduct."),
        widget=forms.NumberInput(attrs={"step": "1", "placeholder": _("e.g. 200 or -50")}),
    )
    note = forms.CharField(label=_("Reason"), max_length=200, widget=forms.TextInput())
    source = forms.RegexField(regex=ADJUST_SOURCE, widget=forms.HiddenInput())

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {})
        # One key per rendered form: submitting it twice applies the adjustment once.
        kwargs["initial"].setdefault("source", f"adjust:{uuid.uuid4()}")
        super().__init__(*args, **kwargs)

    def clean_points(self):
        points = self.cleaned_data["points"]
        if points == 0:
            raise ValidationError(_("Give a non-zero whole number."))
        return points

    def clean_note(self):
        note = self.cleaned_data["note"].strip()
        if not note:
            raise ValidationError(_("Say why."))
        return note


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_("UTF-8, comma-separated, first line naming the columns; at most 50 MB."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def clean_file(self):
        f = self.cleaned_data["file"]
        if f.size > jobs.MAX_IMPORT_BYTES:
            raise ValidationError(_("The file is larger than 50 MB."))
        return f


class MemberIdsField(forms.MultipleChoiceField):
    """Member ids ticked in a list loaded by htmx; which of them may move is the service's call."""

    def valid_value(self, value):
        return str(value).isdigit() and len(str(value)) <= 18

    def to_python(self, value):
        return [int(v) for v in super().to_python(value) if str(v).isdigit()]

    def validate(self, value):
        if self.required and not value:
            raise ValidationError(self.error_messages["required"], code="required")
        for v in value:
            if not self.valid_value(v):
                raise ValidationError(self.error_messages["invalid_choice"], params={"value": v})


class HandoverForm(forms.Form):
    ALL, SELECTED = "all", "selected"

    from_guide = StaffChoiceField(label=_("Leaving guide"), queryset=None, empty_label=_("Choose a guide"))
    to_guide = StaffChoiceField(label=_("Receiving guide"), queryset=None, empty_label=_("Choose a guide"))
    scope = forms.ChoiceField(
        label=_("Members to hand over"),
        choices=[(ALL, _("All of this guide's members")), (SELECTED, _("Only the members I tick"))],
        initial=ALL,
        widget=forms.RadioSelect,
    )
    members = MemberIdsField(label=_("Members"), required=False)

    def __init__(self, *args, from_guides, to_guides, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["from_guide"].queryset = from_guides
        self.fields["to_guide"].queryset = to_guides

    def clean(self):
        data = super().clean()
        if data.get("from_guide") and data.get("to_guide") and data["from_guide"] == data["to_guide"]:
            self.add_error("to_guide", _("Choose another guide."))
        if data.get("scope") == self.SELECTED and not data.get("members"):
            self.add_error("members", _("Tick at least one member, or hand over all of them."))
        return data

    def member_ids(self) -> list[int] | None:
        return self.cleaned_data["members"] if self.cleaned_data["scope"] == self.SELECTED else None


# --- programme settings ----------------------------------------------------------------------------


class ProgramForm(forms.Form):
    points_per_yuan = forms.IntegerField(
        label=_("Points per ¥1 spent"),
        min_value=0,
        max_value=1000,
        help_text=_("0 turns earning off."),
    )
    points_expiry = forms.ChoiceField(label=_("Points expiry"), choices=MembershipProgram.Expiry.choices)
    binding_policy = forms.ChoiceField(
        label=_("Binding rule"),
        choices=MembershipProgram.BindingPolicy.choices,
        help_text=_("What happens when a member scans another guide's code."),
    )
    binding_ttl_days = forms.IntegerField(
        label=_("Binding expires after (days)"),
        required=False,
        min_value=1,
        max_value=3650,
        help_text=_("Empty: never. After this many days another guide can take the member over."),
        widget=forms.NumberInput(attrs={"min": "1", "placeholder": _("Never")}),
    )


class TierForm(forms.Form):
    code = forms.RegexField(
        label=_("Code"),
        regex=r"^[A-Za-z0-9_-]{1,32}$",
        max_length=32,
        error_messages={"invalid": _("Letters, digits, _ and - only.")},
        widget=forms.TextInput(attrs={"placeholder": "GOLD"}),
    )
    name = forms.CharField(
        label=_("Tier name"), max_length=64, widget=forms.TextInput(attrs={"placeholder": _("Gold")})
    )
    min_spend_yuan = forms.DecimalField(
        label=_("Qualifying spend from (¥)"),
        min_value=Decimal("0"),
        max_value=MAX_YUAN,
        max_digits=11,
        decimal_places=2,
        help_text=_("A member reaches this tier once their qualifying spend reaches this amount."),
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0", "inputmode": "decimal"}),
    )

    def data_for_service(self) -> dict:
        d = self.cleaned_data
        return {
            "code": d["code"],
            "name": d["name"].strip(),
            "min_spend_fen": yuan_to_fen(d["min_spend_yuan"]),
        }


class TagRuleFields(forms.Form):
    """An optional rule: the tag goes to members whose field compares with the value."""

    rule_field = forms.ChoiceField(
        label=_("Tag automatically when"),
        required=False,
        choices=[
            ("", _("No rule: staff and imports set this tag")),
            (TagRule.Field.SPEND, _("Qualifying spend (¥)")),
            (TagRule.Field.POINTS, _("Points balance")),
            (TagRule.Field.DAYS_SINCE_PURCHASE, _("Days since last purchase")),
        ],
    )
    rule_op = forms.ChoiceField(
        label=_("Comparison"),
        required=False,
        choices=[(TagRule.Op.GTE, _("at least")), (TagRule.Op.LTE, _("at most"))],
    )
    rule_value = forms.DecimalField(
        label=_("Value"),
        required=False,
        min_value=Decimal("0"),
        max_value=MAX_YUAN,
        max_digits=11,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "any", "min": "0"}),
    )

    def clean(self):
        data = super().clean()
        field, value = data.get("rule_field"), data.get("rule_value")
        if field:
            if value is None and "rule_value" not in self.errors:
                self.add_error("rule_value", _("Give the value the rule compares with."))
            elif value is not None and field != TagRule.Field.SPEND and value != value.to_integral_value():
                self.add_error("rule_value", _("Use a whole number."))
        return data

    def rule(self) -> dict | None:
        d = self.cleaned_data
        if not d.get("rule_field"):
            return None
        value = d["rule_value"]
        stored = yuan_to_fen(value) if d["rule_field"] == TagRule.Field.SPEND else int(value)
        return {"field": d["rule_field"], "op": d["rule_op"] or TagRule.Op.GTE, "value": stored}


class TagForm(TagRuleFields):
    name = forms.CharField(label=_("Tag name"), max_length=32)
    group = forms.ChoiceField(label=_("Group"), choices=Tag.Group.choices, initial=Tag.Group.OTHER)
    field_order = ["name", "group", "rule_field", "rule_op", "rule_value"]

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise ValidationError(_("A tag name of 1 to 32 characters."))
        return name


class TagRuleForm(TagRuleFields):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Rules can be changed but not removed here, so one must be chosen.
        self.fields["rule_field"].required = True
        self.fields["rule_field"].choices = self.fields["rule_field"].choices[1:]
