"""The cloud store in the kernel's console menu and on the staff home tab."""

from django.utils.translation import gettext_lazy as _

from retail import roles
from retail.navigation import register_home_card, register_menu_entry

register_menu_entry(
    "dashboard",
    "catalogue",
    label=_("Catalogue"),
    url_name="dash-cs-products",
    icon="icons/bag.html",
    order=50,
    visible=roles.can_manage_stores,
)
register_menu_entry(
    "dashboard",
    "campaigns",
    label=_("Campaigns"),
    url_name="dash-cs-campaigns",
    icon="cloudstore/staff/_icon.html",
    icon_name="ticket",
    order=60,
    visible=roles.can_manage_stores,
)
register_menu_entry(
    "dashboard",
    "orders",
    label=_("Orders"),
    url_name="dash-cs-orders",
    icon="cloudstore/staff/_icon.html",
    icon_name="receipt",
    order=70,
)
register_home_card("home", "cloudstore", template="cloudstore/cards/home_store.html", order=50)
