"""Commission in the kernel's console menu and "my performance" on the staff home and me tabs; the
way to attendance (punch, 我的考勤) on the same tabs."""

from django.utils.translation import gettext_lazy as _

from guides import selectors
from guides.messaging.history import messages_unread
from retail import roles
from retail.navigation import register_home_card, register_menu_badge, register_menu_entry


def _performance(request) -> dict:
    """How many commission notifications the viewer has not read (``unread``)."""
    return {"unread": selectors.notifications_unread(brand=request.brand, staff=request.staff)}


register_menu_entry(
    "dashboard",
    "commission",
    label=_("Commission"),
    url_name="dash-commission",
    icon="guides/dash/_icon.html",
    icon_name="commission",
    order=90,
    testid="nav-commission",
)
for page in ("home", "me"):
    register_home_card(
        page,
        "performance",
        template=f"guides/cards/performance_{page}.html",
        order=30,
        provide=_performance,
        group="cells",
        stylesheet="css/wallet.css",
    )
    # 考勤: punch and my attendance (attendance/views/mobile.py), for every staff member.
    register_home_card(page, "attendance", template="attendance/m/_card.html", order=25, group="cells")

# The 消息 tab's unread count (one query, only on pages that show the tab bar).
register_menu_badge("tabbar", "messages", messages_unread)

# Messaging in the console (brand admins): settings, conversations, reports, canned replies.
register_menu_entry(
    "dashboard",
    "messaging",
    label=_("Messaging"),
    url_name="dash-messaging-conversations",
    icon="icons/message.html",
    order=91,
    visible=roles.can_manage_stores,
    testid="nav-messaging",
)
