"""The membership programme in the kernel's menus and on the staff home tab."""

from django.utils.translation import gettext_lazy as _

from retail import roles
from retail.models import Staff
from retail.navigation import register_home_card, register_menu_entry


def _serves_shoppers(staff: Staff) -> bool:
    return staff.role != Staff.Role.BRAND_ADMIN


register_menu_entry(
    "tabbar", "members", label=_("Members"), url_name="members-tab", icon="icons/members.html", order=20
)
register_menu_entry(
    "shortcuts",
    "members",
    label=_("My members"),
    url_name="members-tab",
    icon="icons/members.html",
    tone="sc-blue",
    order=10,
)
register_menu_entry(
    "dashboard", "members", label=_("Members"), url_name="dash-members", icon="icons/members.html", order=40
)
register_menu_entry(
    "dashboard",
    "membership",
    label=_("Membership settings"),
    url_name="dash-program",
    icon="members/icons/settings.html",
    order=100,
    visible=roles.can_manage_stores,
)
register_home_card(
    "home", "members-actions", template="members/cards/home_actions.html", order=10, visible=_serves_shoppers
)
