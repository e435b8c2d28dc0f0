"""Attendance in the kernel's menus: the console's 考勤 entry (brand admins and store managers)."""

from django.utils.translation import gettext_lazy as _

from retail import roles
from retail.navigation import register_menu_entry

register_menu_entry(
    "dashboard",
    "attendance",
    label=_("Attendance"),
    url_name="dash-attendance",
    icon="attendance/dash/_icon.html",
    order=93,
    visible=roles.can_manage_staff,
    testid="nav-attendance",
)
