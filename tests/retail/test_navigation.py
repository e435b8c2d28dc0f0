"""The registry of menus and home cards: order, roles, and core templates that know no app above."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.test import RequestFactory
from django.urls import reverse

from retail import navigation, roles
from tests.helpers.auth import login_as

pytestmark = pytest.mark.django_db

TEMPLATES = Path(settings.BASE_DIR) / "templates"
CORE_TEMPLATES = [
    *sorted((TEMPLATES / "staff").glob("*.html")),
    *sorted((TEMPLATES / "dashboard").glob("base*.html")),
    TEMPLATES / "base.html",
]
APP_LABELS = {
    c.label for c in apps.get_app_configs() if c.name in ("members", "cloudstore", "guides", "redpackets")
}


def _app_tag_libraries() -> set[str]:
    """The template tag libraries the apps above the kernel define."""
    names = set()
    for label in APP_LABELS:
        folder = Path(apps.get_app_config(label).path) / "templatetags"
        names |= {p.stem for p in folder.glob("*.py") if p.stem != "__init__"}
    return names


def _app_url_names() -> set[str]:
    from django.urls import get_resolver

    out = set()

    def walk(patterns):
        for p in patterns:
            if hasattr(p, "url_patterns"):
                walk(p.url_patterns)
            elif p.name and p.callback.__module__.split(".")[0] in APP_LABELS:
                out.add(p.name)

    walk(get_resolver().url_patterns)
    return out


@pytest.fixture
def registry(monkeypatch):
    """An empty registry for the test, leaving the apps' registrations alone."""
    monkeypatch.setattr(navigation, "_MENUS", {})
    monkeypatch.setattr(navigation, "_CARDS", {})


def test_core_templates_load_no_app_tag_library_and_name_no_app_url():
    libraries, url_names = _app_tag_libraries(), _app_url_names()
    assert {"shop", "wallet_tags", "membership"} & libraries  # the scan looks at real libraries
    assert {"members-tab", "m-wallet", "dash-commission"} <= url_names
    for path in CORE_TEMPLATES:
        body = path.read_text()
        for load in re.findall(r"{%\s*load\s+([^%]*)%}", body):
            assert not set(load.split()) & libraries, f"{path.name} loads {load}"
        for name in re.findall(r"""{%\s*url\s+['"]([^'"]+)['"]""", body):
            assert name not in url_names, f"{path.name} names the app url {name}"


def test_menu_entries_come_in_order_and_hide_by_role(registry, guide, brand_admin):
    navigation.register_menu_entry("side", "late", label="Late", url_name="home", icon="i.html", order=30)
    navigation.register_menu_entry("side", "early", label="Early", url_name="me-tab", icon="i.html", order=10)
    navigation.register_menu_entry(
        "side",
        "admins",
        label="Admins",
        url_name=lambda staff: "dashboard",
        icon="i.html",
        order=20,
        visible=roles.can_manage_stores,
    )
    assert [e["key"] for e in navigation.menu("side", brand_admin)] == ["early", "admins", "late"]
    assert [e["key"] for e in navigation.menu("side", guide)] == ["early", "late"]
    assert navigation.menu("side", brand_admin)[1]["url"] == reverse("dashboard")
    assert navigation.Menus(guide)["nothing"] == []


def test_home_cards_come_in_order_hide_by_role_and_group_into_sections(registry, guide, store_manager):
    calls = []

    def provide(request):
        calls.append(request.staff.pk)
        return {"n": 3}

    navigation.register_home_card("home", "c", template="c.html", order=30)
    navigation.register_home_card("home", "a", template="a.html", order=10, group="cells", provide=provide)
    navigation.register_home_card(
        "home",
        "b",
        template="b.html",
        order=20,
        group="cells",
        visible=roles.can_manage_staff,
        stylesheet="x.css",
    )
    navigation.register_home_card("me", "m", template="m.html")
    request = RequestFactory().get("/m/")

    request.staff = store_manager
    out = navigation.home_cards(request, "home")
    assert [(s["group"], [c["key"] for c in s["cards"]]) for s in out["home_cards"]] == [
        ("cells", ["a", "b"]),
        ("", ["c"]),
    ]
    assert out["home_cards"][0]["cards"][0]["data"] == {"n": 3}
    assert out["card_stylesheets"] == ["x.css"]

    request.staff = guide
    out = navigation.home_cards(request, "home")
    assert [[c["key"] for c in s["cards"]] for s in out["home_cards"]] == [["a"], ["c"]]
    assert out["card_stylesheets"] == []
    assert calls == [store_manager.pk, guide.pk]  # a hidden card's data is not read


def test_the_apps_register_their_entries_and_cards(guide, brand_admin):
    assert [e["key"] for e in navigation.menu("tabbar", guide)] == ["home", "members", "messages", "me"]
    assert [e["key"] for e in navigation.menu("dashboard", brand_admin)] == [
        "overview",
        "stores",
        "staff",
        "members",
        "catalogue",
        "campaigns",
        "orders",
        "redpackets",
        "commission",
        "messaging",
        "attendance",
        "devices",
        "membership",
        "audit",
        "developers",
    ]
    request = RequestFactory().get("/m/")
    request.brand, request.staff = guide.brand, guide
    home = navigation.home_cards(request, "home")
    assert [[c["key"] for c in s["cards"]] for s in home["home_cards"]] == [
        ["members-actions"],
        ["wallet", "attendance", "performance"],
        ["cloudstore"],
    ]
    assert home["home_cards"][1]["cards"][0]["data"] == {"balance_fen": 0, "to_open": 0}
    assert home["home_cards"][1]["cards"][2]["data"] == {"unread": 0}


def test_the_console_menu_of_a_store_manager(client, store_manager):
    login_as(client, store_manager)
    body = client.get(reverse("dashboard")).content.decode()
    nav = body[body.index('<nav class="d-nav"') : body.index("</nav>", body.index('<nav class="d-nav"'))]
    links = set(re.findall(r'href="([^"]+)"', nav))
    assert {reverse("dash-rp-packets"), reverse("dash-cs-orders"), reverse("dash-commission")} <= links
    assert (
        not {reverse(n) for n in ("dash-rp-pool", "dash-cs-products", "dash-audit", "dash-program")} & links
    )
    assert 'aria-current="page"' in nav and 'data-testid="nav-commission"' in nav
