"""Translatable strings are marked so that makemessages finds them: a string marked through an
alias it does not know would silently drop out of the catalogue (and show in English)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ["retail", "members", "cloudstore", "redpackets", "guides"]
# makemessages' keywords: gettext, gettext_lazy, ngettext(_lazy), pgettext(_lazy), npgettext(_lazy),
# gettext_noop and "_". Any other name bound to one of them is invisible to it.
ALIAS = re.compile(r"import\s+(n?p?gettext(?:_lazy|_noop)?)\s+as\s+(\w+)")


def test_gettext_functions_are_imported_under_names_makemessages_knows():
    odd = []
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for func, alias in ALIAS.findall(path.read_text(encoding="utf-8")):
                if alias != "_":
                    odd.append(f"{path.relative_to(ROOT)}: {func} as {alias}")
    assert not odd, odd
