"""Template tags and filters do no queries: the view or a selector fetches what a page shows and
passes it in. Every tag library of every app is rendered here with no query allowed, and its
source may not reach for models, selectors or the database."""

import ast
import importlib
from pathlib import Path

import pytest
from django.conf import settings
from django.template import Context, Template
from django.utils import timezone

from members.models import MemberJob

pytestmark = pytest.mark.django_db

ROOT = Path(settings.BASE_DIR)
APPS = ["retail", "members", "cloudstore", "guides", "redpackets", "attendance", "devices"]

# One use of every tag and filter, by library; a library or tag missing here fails the test.
USES = {
    "money": {"yuan": "{{ 123456|yuan }}"},
    "shop": {
        "distance": "{{ 1234|distance }}",
        "media_url": '{{ "products/a.jpg"|media_url }}',
        "qr_code": '{% qr_code "https://example.com/x" %}',
        "payment_provider": '{{ "sim"|payment_provider }}',
        "payment_method": '{{ "alipay"|payment_method }}',
    },
    "membership": {
        "masked": '{{ "13800138000"|masked:"phone" }}',
        "signed": "{{ -50|signed }}",
        "qr_svg": '{% qr_svg "M123" %}',
        "job_label": "{{ job|job_label }}",
    },
    "wallet_tags": {"payout_provider": '{{ "sim"|payout_provider }}'},
}
BUILTIN_FILTERS = {"escape", "force_escape", "safe", "safeseq", "escapejs"}  # never ours


def _libraries() -> dict[str, Path]:
    """Every ``templatetags`` module of the project's apps, by library name."""
    out = {}
    for app in APPS:
        folder = ROOT / app / "templatetags"
        for path in sorted(folder.glob("*.py")) if folder.is_dir() else []:
            if path.name != "__init__.py":
                out[path.stem] = path
    return out


def test_every_tag_library_is_covered():
    libraries = _libraries()
    assert set(libraries) == set(USES), "add a use of the new tag library to USES"
    for name, path in libraries.items():
        module = importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
        lib = module.register
        names = (set(lib.filters) | set(lib.tags)) - BUILTIN_FILTERS
        assert names == set(USES[name]), f"{name}: add a use of each tag and filter to USES"


@pytest.mark.parametrize("library", sorted(USES))
def test_tags_render_without_a_query(library, django_assert_num_queries):
    job = MemberJob(kind=MemberJob.Kind.EXPORT, created_at=timezone.now())
    source = "{% load " + library + " %}" + "".join(USES[library].values())
    with django_assert_num_queries(0):
        out = Template(source).render(Context({"job": job}))
    assert out.strip()


FORBIDDEN_MODULES = ("models", "selectors", "services", "tenancy")


def _reaches_for_data(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            names = [a.name for a in node.names]
            reached = [*mod.split(".")[1:], *names]
            if mod.startswith("django.db") or any(p in FORBIDDEN_MODULES for p in reached):
                found.append(f"from {mod} import {', '.join(names)}")
        elif isinstance(node, ast.Import):
            found += [
                f"import {a.name}"
                for a in node.names
                if a.name.startswith("django.db")
                or any(p in FORBIDDEN_MODULES for p in a.name.split(".")[1:])
            ]
        elif isinstance(node, ast.Attribute) and node.attr in ("objects", "select_for_update", "raw"):
            found.append(f".{node.attr}")
    return found


@pytest.mark.parametrize("library", sorted(_libraries()))
def test_tag_modules_import_no_models_selectors_or_database(library):
    path = _libraries()[library]
    assert _reaches_for_data(ast.parse(path.read_text())) == [], path
