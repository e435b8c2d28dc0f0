"""Devices in the kernel's console menu: brand admins and store managers (their stores' devices)."""

from django.utils.translation import gettext_lazy as _

from retail import roles
from retail.navigation import register_menu_entry

register_menu_entry(
    "dashboard",
    "devices",
    label=_("Devices"),
    url_name="dash-devices",
    icon="devices/icons/device.html",
    order=95,
    visible=roles.can_manage_staff,
    testid="nav-devices",
)
