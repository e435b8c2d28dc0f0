"""Forms of the messaging console and the guide's settings page: validate and convert only."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from guides.messaging.models import BODY_MAX, MessagingSettings


def _no_nul(value: str) -> str:
    if "\x00" in (value or ""):
        raise forms.ValidationError(_("Enter text without control characters."), code="invalid")
    return value


class MessagingSettingsForm(forms.ModelForm):
    class Meta:
        model = MessagingSettings
        fields = [
            "welcome_template",
            "auto_reply_text",
            "mass_cap",
            "banned_words",
            "shopper_per_minute",
            "outbound_channel",
            "notice_every_minutes",
        ]
        widgets = {
            "welcome_template": forms.Textarea(attrs={"rows": 3}),
            "auto_reply_text": forms.Textarea(attrs={"rows": 3}),
            "banned_words": forms.Textarea(attrs={"rows": 6}),
        }

    def clean_banned_words(self):
        value = _no_nul(self.cleaned_data.get("banned_words") or "")
        lines = [line.strip() for line in value.splitlines() if line.strip()]
        if len(lines) > 500:
            raise forms.ValidationError(_("At most 500 words."), code="max_length")
        if any(len(line) > 50 for line in lines):
            raise forms.ValidationError(
                _("Each word or phrase can have at most 50 characters."), code="max_length"
            )
        return "\n".join(lines)

    def clean_welcome_template(self):
        return _no_nul(self.cleaned_data.get("welcome_template") or "").strip()

    def clean_auto_reply_text(self):
        return _no_nul(self.cleaned_data.get("auto_reply_text") or "").strip()


class CannedForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=40)
    body = forms.CharField(label=_("Text"), max_length=BODY_MAX, widget=forms.Textarea(attrs={"rows": 3}))

    def clean_title(self):
        return _no_nul(self.cleaned_data["title"])

    def clean_body(self):
        return _no_nul(self.cleaned_data["body"])


class AutoReplyForm(forms.Form):
    auto_reply_text = forms.CharField(
        label=_("My auto-reply"),
        max_length=300,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Leave empty to use the brand's auto-reply."),
    )

    def clean_auto_reply_text(self):
        return _no_nul(self.cleaned_data.get("auto_reply_text") or "")


class ConversationFilterForm(forms.Form):
    guide = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    store = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    reported = forms.BooleanField(required=False)
    page = forms.IntegerField(required=False, min_value=1, max_value=100000)
