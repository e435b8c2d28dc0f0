"""Rewrite the generated parts of docs/partners.md from the code, or check that they are current.

`python manage.py partner_docs` rewrites, between their markers, the scope table (every API
operation's scope, read from the views' ``scopes``), the webhook verification samples (the files
in docs/samples/) and the event catalogue (retail.webhooks.catalogue, with each event's JSON
Schema). `--check` changes nothing and fails if the document differs: a test runs it, so the
developer guide cannot drift from the code.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import translation

from retail import generated_docs
from retail.generated_docs import begin_marker, end_marker

DOC = Path(settings.BASE_DIR) / "docs" / "partners.md"
SAMPLES = Path(settings.BASE_DIR) / "docs" / "samples"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _begin(name: str) -> str:
    return begin_marker(name, "partner_docs")


def _end(name: str) -> str:
    return end_marker(name)


def _walk(patterns, prefix: str = ""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p.callback


def api_operations() -> list[tuple[str, str, str | None]]:
    """(METHOD, /path/, scope or None) of every brand API operation, in URL order."""
    from retail.api_base import BrandAPIView

    out = []
    for route, callback in _walk(get_resolver().url_patterns):
        view = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
        if not (isinstance(view, type) and issubclass(view, BrandAPIView)):
            continue
        path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route).lstrip("^").rstrip("$")
        scopes = getattr(view, "scopes", {}) or {}
        for method in METHODS:
            if hasattr(view, method.lower()):
                out.append((method, path, scopes.get(method)))
    return out


def scopes_section() -> str:
    from retail.partners.scopes import SCOPES

    ops = api_operations()
    by_scope: dict[str, list[str]] = {name: [] for name in SCOPES}
    staff_only = []
    for method, path, scope in ops:
        if scope:
            by_scope.setdefault(scope, []).append(f"`{method} {path}`")
        else:
            staff_only.append(f"`{method} {path}`")
    lines = ["| scope | what it allows | operations |", "|---|---|---|"]
    with translation.override("en"):
        for name, operations in by_scope.items():
            desc = str(SCOPES.get(name, "")).replace("|", "\\|")
            lines.append(f"| `{name}` | {desc} | {'<br>'.join(operations) or '(none yet)'} |")
    lines += [
        "",
        f"{len(ops) - len(staff_only)} operations are open to partner apps. These "
        f"{len(staff_only)} are for staff sessions only (a token gets `403 insufficient_scope`):",
        "",
        ", ".join(staff_only) or "(none)",
    ]
    return "\n".join(lines)


def samples_section() -> str:
    py = (SAMPLES / "verify_webhook.py").read_text().rstrip("\n")
    js = (SAMPLES / "verify_webhook.js").read_text().rstrip("\n")
    return "\n".join(
        [
            "Python ([docs/samples/verify_webhook.py](samples/verify_webhook.py), standard library only):",
            "",
            "```python",
            py,
            "```",
            "",
            "Node.js ([docs/samples/verify_webhook.js](samples/verify_webhook.js), no dependencies):",
            "",
            "```javascript",
            js,
            "```",
        ]
    )


def events_section() -> str:
    from retail.webhooks.catalogue import event_types

    types = event_types()
    lines = ["| event | what happened |", "|---|---|"]
    with translation.override("en"):
        for name, et in types.items():
            desc = " ".join(str(et.description).split()).replace("|", "\\|")
            lines.append(f"| [`{name}`](#event-{name.replace('.', '-')}) | {desc} |")
        for name, et in types.items():
            lines += [
                "",
                f'<a id="event-{name.replace(".", "-")}"></a>',
                f"#### `{name}`",
                "",
                " ".join(str(et.description).split()),
                "",
                "JSON Schema of `data`:",
                "",
                "```json",
                json.dumps(et.schema, indent=2, ensure_ascii=False, sort_keys=False, default=str),
                "```",
            ]
    return "\n".join(lines)


SECTIONS = {"scopes": scopes_section, "samples": samples_section, "events": events_section}


def render(text: str) -> str:
    """``text`` with every generated section replaced by what the code produces now."""
    return generated_docs.render(text, SECTIONS, command="partner_docs", doc="docs/partners.md")


class Command(generated_docs.GeneratedDocCommand):
    help = "Rewrite (or --check) the generated scope table, samples and event catalogue of docs/partners.md."

    @property
    def path(self):
        return DOC  # read when the command runs (tests point it at a copy)

    command = "partner_docs"

    def render(self, text: str) -> str:
        return render(text)
