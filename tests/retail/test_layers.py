"""The rules between apps that import-linter cannot see (it checks modules, not names): no app
uses a `_private` name of another app, and inside an app services never import its tasks (they
queue them by name on commit, retail.outbox.enqueue_on_commit). Read from the source with ast.
The layers themselves are import-linter contracts in pyproject.toml (`lint-imports`)."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
APPS = sorted(a for a in settings.INSTALLED_APPS if "." not in a and (ROOT / a / "apps.py").exists())


@dataclass(frozen=True)
class Use:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def _modules():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            rel = path.relative_to(ROOT)
            name = ".".join(rel.with_suffix("").parts).removesuffix(".__init__")
            yield app, name, str(rel), ast.parse(path.read_text(), str(rel))


def _app_of(module: str) -> str | None:
    top = module.split(".")[0]
    return top if top in APPS else None


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_uses() -> list[Use]:
    """Every `_name` of another app that a module imports or reads as a module attribute."""
    found = []
    for app, _name, path, tree in _modules():
        # Names bound to another app's module, e.g. `from guides.services import attribution`.
        foreign_modules: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                other = _app_of(node.module)
                if other is None or other == app:
                    continue
                for alias in node.names:
                    if _private(alias.name) or any(_private(p) for p in node.module.split(".")):
                        found.append(Use(path, node.lineno, f"from {node.module} import {alias.name}"))
                    foreign_modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    other = _app_of(alias.name)
                    if other is None or other == app:
                        continue
                    if any(_private(p) for p in alias.name.split(".")):
                        found.append(Use(path, node.lineno, f"import {alias.name}"))
                    if alias.asname:
                        foreign_modules[alias.asname] = alias.name
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in foreign_modules
                and _private(node.attr)
            ):
                found.append(Use(path, node.lineno, f"{foreign_modules[node.value.id]}.{node.attr}"))
    return found


def services_importing_tasks() -> list[Use]:
    """Every import of an app's tasks module from its services (tasks import services, not back)."""
    found = []
    for app, name, path, tree in _modules():
        if not (name == f"{app}.services" or name.startswith(f"{app}.services.")):
            continue
        tasks = f"{app}.tasks"
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            if any(t == tasks or t.startswith(tasks + ".") for t in targets):
                found.append(Use(path, node.lineno, f"imports {tasks}"))
    return found


def test_the_apps_are_found():
    assert {"retail", "members", "cloudstore", "guides", "redpackets"} <= set(APPS)


def test_no_app_uses_a_private_name_of_another_app():
    uses = private_uses()
    assert not uses, "private names used across apps:\n" + "\n".join(map(str, uses))


def test_services_never_import_their_tasks():
    uses = services_importing_tasks()
    assert not uses, "services that import tasks (queue them by name instead):\n" + "\n".join(map(str, uses))


def test_the_checker_finds_a_private_import(tmp_path, monkeypatch):
    """The checker itself: a module of one app reading another app's `_name` is reported."""
    for app in ("alpha", "beta"):
        (tmp_path / app).mkdir()
        (tmp_path / app / "apps.py").write_text("")
    (tmp_path / "alpha" / "helpers.py").write_text("def _secret(): ...\ndef public(): ...\n")
    (tmp_path / "beta" / "uses.py").write_text(
        "from alpha.helpers import _secret, public\nfrom alpha import helpers\nhelpers._secret()\n"
        "from beta.own import _fine\n"
    )
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    monkeypatch.setattr(f"{__name__}.APPS", ["alpha", "beta"])
    assert [str(u) for u in private_uses()] == [
        "beta/uses.py:1: from alpha.helpers import _secret",
        "beta/uses.py:3: alpha.helpers._secret",
    ]
