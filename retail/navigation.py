"""Menus and home cards: the kernel draws them, each app fills them.

The kernel does not know the apps above it, so an app registers its menu entries and its cards on
the staff home and "me" tabs from its ``navigation`` module, imported by its AppConfig.ready()
(the kernel's own entries are registered the same way, by ``retail.apps``). Core templates only
iterate what is registered:

* menus (``menus.tabbar``, ``menus.dashboard``, ``menus.shortcuts`` in any template, from the
  ``tenant`` context processor): each entry is a link with a label and an icon;
* home cards (``home_cards`` from the home and me views): each card is an app's template,
  included with the data its ``provide(request)`` function read (template tags do no queries).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.urls import reverse
from django.utils.functional import Promise

# Who may see an entry or card: a check of the acting staff member (retail.roles has them).
Visible = Callable[[Any], bool]


@dataclass(frozen=True)
class MenuEntry:
    menu: str
    key: str
    label: Promise | str
    url_name: str | Callable[[Any], str]
    icon: str
    icon_name: str = ""
    order: int = 100
    visible: Visible | None = None
    tone: str = ""
    testid: str = ""


@dataclass(frozen=True)
class HomeCard:
    page: str
    key: str
    template: str
    order: int = 100
    visible: Visible | None = None
    provide: Callable[[Any], dict] | None = None
    group: str = ""
    stylesheet: str = ""


_MENUS: dict[str, dict[str, MenuEntry]] = {}
_CARDS: dict[str, dict[str, HomeCard]] = {}
_BADGES: dict[tuple[str, str], Callable[[Any], int]] = {}


def register_menu_entry(
    menu: str,
    key: str,
    *,
    label: Promise | str,
    url_name: str | Callable[[Any], str],
    icon: str,
    icon_name: str = "",
    order: int = 100,
    visible: Visible | None = None,
    tone: str = "",
    testid: str = "",
) -> None:
    """Add a link to a menu (``"tabbar"``, ``"dashboard"``, ``"shortcuts"``).

    ``key`` marks the entry as the current one (the page's ``tab`` or ``nav``); ``url_name`` is a
    URL name or a function of the staff member giving one; ``icon`` is a template, included with
    ``name=icon_name``; ``tone`` is the colour class of a shortcut. Registering a key again
    replaces the entry."""
    _MENUS.setdefault(menu, {})[key] = MenuEntry(
        menu=menu,
        key=key,
        label=label,
        url_name=url_name,
        icon=icon,
        icon_name=icon_name,
        order=order,
        visible=visible,
        tone=tone,
        testid=testid,
    )


def register_menu_badge(menu: str, key: str, count: Callable[[Any], int]) -> None:
    """Show ``count(staff)`` (e.g. unread messages) on a menu's entry; counted only when a template
    shows the badge, so pages without that menu pay nothing."""
    _BADGES[(menu, key)] = count


def register_home_card(
    page: str,
    key: str,
    *,
    template: str,
    order: int = 100,
    visible: Visible | None = None,
    provide: Callable[[Any], dict] | None = None,
    group: str = "",
    stylesheet: str = "",
) -> None:
    """Add a card to the staff ``"home"`` or ``"me"`` tab.

    The template is included with ``card`` set to what ``provide(request)`` returns (its reads
    go through selectors); cards of one ``group`` that follow each other share one container of
    that class (``"cells"``); ``stylesheet`` is a static path the page links once."""
    _CARDS.setdefault(page, {})[key] = HomeCard(
        page=page,
        key=key,
        template=template,
        order=order,
        visible=visible,
        provide=provide,
        group=group,
        stylesheet=stylesheet,
    )


def _shown(item: MenuEntry | HomeCard, staff) -> bool:
    if item.visible is None:
        return True
    return staff is not None and bool(item.visible(staff))


def menu(name: str, staff) -> list[dict]:
    """The entries of a menu the staff member may see, in order, with their URLs."""
    out = []
    for e in sorted(_MENUS.get(name, {}).values(), key=lambda e: (e.order, e.key)):
        if not _shown(e, staff):
            continue
        url_name = e.url_name(staff) if callable(e.url_name) else e.url_name
        count = _BADGES.get((name, e.key))
        out.append(
            {
                "badge": _lazy_badge(count, staff) if count is not None and staff is not None else None,
                "key": e.key,
                "label": e.label,
                "url": reverse(url_name),
                "icon": e.icon,
                "icon_name": e.icon_name,
                "tone": e.tone,
                "testid": e.testid,
            }
        )
    return out


def _lazy_badge(count: Callable[[Any], int], staff) -> Callable[[], str]:
    """A template calls it: "" for nothing, the number, or "99+"."""

    def badge() -> str:
        n = int(count(staff) or 0)
        return "" if n <= 0 else ("99+" if n > 99 else str(n))

    return badge


class Menus:
    """Every menu by name for templates (``menus.dashboard``), each built when first used."""

    def __init__(self, staff):
        self._staff = staff
        self._built: dict[str, list[dict]] = {}

    def __getitem__(self, name: str) -> list[dict]:
        if name not in self._built:
            self._built[name] = menu(name, self._staff)
        return self._built[name]


def home_cards(request, page: str) -> dict:
    """The cards of a staff tab the viewer may see, with their data: ``{"home_cards": sections,
    "card_stylesheets": [...]}``, a section being consecutive cards of one group (or one card)."""
    staff = request.staff
    sections: list[dict] = []
    stylesheets: list[str] = []
    for c in sorted(_CARDS.get(page, {}).values(), key=lambda c: (c.order, c.key)):
        if not _shown(c, staff):
            continue
        item = {"key": c.key, "template": c.template, "data": c.provide(request) if c.provide else {}}
        if c.group and sections and sections[-1]["group"] == c.group:
            sections[-1]["cards"].append(item)
        else:
            sections.append({"group": c.group, "cards": [item]})
        if c.stylesheet and c.stylesheet not in stylesheets:
            stylesheets.append(c.stylesheet)
    return {"home_cards": sections, "card_stylesheets": stylesheets}


def register_core() -> None:
    """The kernel's own entries: its tabs, shortcuts and console pages (called by retail.apps)."""
    from django.utils.translation import gettext_lazy as _
    from django.utils.translation import pgettext_lazy

    from retail import roles

    def not_manager(staff) -> bool:
        return not roles.can_manage_staff(staff)

    register_menu_entry("tabbar", "home", label=_("Home"), url_name="home", icon="icons/home.html", order=10)
    register_menu_entry(
        "tabbar",
        "messages",
        label=_("Messages"),
        url_name="messages-tab",
        icon="icons/message.html",
        order=30,
    )
    register_menu_entry("tabbar", "me", label=_("Me"), url_name="me-tab", icon="icons/user.html", order=40)

    register_menu_entry(
        "shortcuts",
        "messages",
        label=_("Messages"),
        url_name="messages-tab",
        icon="icons/message.html",
        tone="sc-green",
        order=20,
    )
    register_menu_entry(
        "shortcuts",
        "team",
        label=_("My team"),
        url_name="team",
        icon="icons/team.html",
        tone="sc-orange",
        order=30,
        visible=roles.can_manage_staff,
    )
    register_menu_entry(
        "shortcuts",
        "console",
        label=_("Console"),
        url_name="dashboard",
        icon="icons/overview.html",
        tone="sc-purple",
        order=40,
        visible=roles.can_manage_staff,
    )
    register_menu_entry(
        "shortcuts",
        "profile",
        label=_("My profile"),
        url_name="me-tab",
        icon="icons/user.html",
        tone="sc-orange",
        order=30,
        visible=not_manager,
    )
    register_menu_entry(
        "shortcuts",
        "password",
        label=_("Password"),
        url_name="password-change",
        icon="icons/key.html",
        tone="sc-purple",
        order=40,
        visible=not_manager,
    )

    register_menu_entry(
        "dashboard",
        "overview",
        label=_("Overview"),
        url_name="dashboard",
        icon="icons/overview.html",
        order=10,
    )
    register_menu_entry(
        "dashboard", "stores", label=_("Stores"), url_name="dash-stores", icon="icons/store.html", order=20
    )
    register_menu_entry(
        "dashboard",
        "staff",
        label=pgettext_lazy("people of the brand", "Staff"),
        url_name="dash-staff",
        icon="icons/staff.html",
        order=30,
    )
    register_menu_entry(
        "dashboard",
        "developers",
        label=_("Developers"),
        url_name="dev-apps",
        icon="icons/code.html",
        order=120,
        visible=roles.can_manage_stores,
        testid="nav-developers",
    )
    register_menu_entry(
        "dashboard",
        "audit",
        label=_("Audit log"),
        url_name="dash-audit",
        icon="icons/audit.html",
        order=110,
        visible=roles.can_manage_stores,
    )
