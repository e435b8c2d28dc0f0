"""The one-time key a form that moves money or creates something carries, so a double submit
acts once."""

from __future__ import annotations

import uuid

from django import forms

UUID_RE = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def new_key() -> str:
    """A fresh one-time key for a form."""
    return str(uuid.uuid4())


class KeyedForm(forms.Form):
    """A form with a one-time key, so that a double submit acts once."""

    key = forms.RegexField(regex=UUID_RE, widget=forms.HiddenInput())

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("key", new_key())
        super().__init__(*args, **kwargs)

    def renew_key(self) -> None:
        """Give the (re-shown) form a fresh key: its old one was spent on another request."""
        if self.is_bound:
            data = self.data.copy()
            data["key"] = new_key()
            self.data = data
        else:
            self.initial["key"] = new_key()
