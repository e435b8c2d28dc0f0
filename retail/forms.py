from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from retail import roles
from retail.models import Staff, Store
from retail.phones import normalize_phone
from retail.services import STORE_FIELDS


class LoginForm(AuthenticationForm):
    username = forms.CharField(
        label=_("Phone or username"),
        max_length=150,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username", "inputmode": "text"}),
    )
    error_messages = {
        "invalid_login": _("Wrong phone/username or password."),
        "inactive": _("This account is inactive."),
    }


class StoreForm(forms.ModelForm):
    class Meta:
        model = Store
        fields = list(STORE_FIELDS)
        widgets = {
            "opens_at": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "closes_at": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }

    def validate_unique(self):
        # Uniqueness per brand is checked by the service inside the brand's scope.
        pass


class _StaffFields(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=64)
    role = forms.ChoiceField(label=_("Role"), choices=Staff.Role.choices, initial=Staff.Role.GUIDE)
    stores = forms.ModelMultipleChoiceField(
        label=_("Stores"),
        queryset=Store.unscoped.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    employee_no = forms.CharField(label=_("Employee no."), max_length=32, required=False)
    hired_on = forms.DateField(
        label=_("Hired on"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def __init__(self, *args, manager: Staff, **kwargs):
        super().__init__(*args, **kwargs)
        allowed = roles.roles_assignable_by(manager)
        self.fields["role"].choices = [c for c in Staff.Role.choices if c[0] in allowed]
        qs = Store.objects.for_brand(manager.brand_id).order_by("code")
        if not roles.sees_all_stores(manager):
            qs = qs.filter(pk__in=roles.store_ids(manager))
        self.fields["stores"].queryset = qs


class StaffInviteForm(_StaffFields):
    phone = forms.CharField(
        label=_("Mobile phone"),
        max_length=32,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )
    field_order = ["name", "phone", "role", "stores", "employee_no", "hired_on"]

    def clean_phone(self):
        return normalize_phone(self.cleaned_data["phone"])


class StaffEditForm(_StaffFields):
    pass


class AcceptInvitationForm(forms.Form):
    """New users choose a password; people who already have a login confirm theirs."""

    current_password = forms.CharField(
        label=_("Your current password"), widget=forms.PasswordInput, required=False
    )
    password1 = forms.CharField(label=_("Choose a password"), widget=forms.PasswordInput, required=False)
    password2 = forms.CharField(label=_("Repeat the password"), widget=forms.PasswordInput, required=False)

    def __init__(self, *args, existing_user: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.existing_user = existing_user
        if existing_user:
            del self.fields["password1"], self.fields["password2"]
            self.fields["current_password"].required = True
        else:
            del self.fields["current_password"]
            self.fields["password1"].required = True
            self.fields["password2"].required = True

    def clean(self):
        data = super().clean()
        if not self.existing_user and data.get("password1") != data.get("password2"):
            raise ValidationError(_("The two passwords differ."))
        return data
