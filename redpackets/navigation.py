"""Red packets in the kernel's console menu and the wallet on the staff home and me tabs."""

from django.utils.translation import gettext_lazy as _

from redpackets import selectors
from retail import roles
from retail.navigation import register_home_card, register_menu_entry


def _console_page(staff) -> str:
    return "dash-rp-pool" if roles.can_manage_stores(staff) else "dash-rp-packets"


def _wallet(request) -> dict:
    """Balance and packets to open (``balance_fen``, ``to_open``), in one query."""
    return selectors.wallet_badge(brand=request.brand, staff=request.staff)


register_menu_entry(
    "dashboard",
    "redpackets",
    label=_("Red packets"),
    url_name=_console_page,
    icon="icons/redpacket.html",
    order=80,
    testid="nav-redpackets",
)
for page in ("home", "me"):
    register_home_card(
        page,
        "wallet",
        template=f"redpackets/cards/wallet_{page}.html",
        order=20,
        provide=_wallet,
        group="cells",
        stylesheet="css/wallet.css",
    )
    register_home_card(
        page,
        "send",
        template=f"redpackets/cards/send_{page}.html",
        order=40,
        visible=roles.can_manage_staff,
        group="cells",
    )
