"""Documents with sections written by the code (docs/partners.md, docs/kiosk-protocol.md).

A generated section sits between ``<!-- BEGIN GENERATED <name>: python manage.py <command> -->``
and ``<!-- END GENERATED <name> -->``; everything else is written by hand. A command built on
``GeneratedDocCommand`` rewrites the sections, or with ``--check`` fails when the document no longer
says what the code does (each document's test runs the check)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError


def begin_marker(name: str, command: str) -> str:
    return f"<!-- BEGIN GENERATED {name}: python manage.py {command} -->"


def end_marker(name: str) -> str:
    return f"<!-- END GENERATED {name} -->"


def render(text: str, sections: dict[str, Callable[[], str]], *, command: str, doc: str) -> str:
    """``text`` with every generated section replaced by what the code produces now."""
    for name, make in sections.items():
        begin, end = begin_marker(name, command), end_marker(name)
        a, b = text.find(begin), text.find(end)
        if a < 0 or b < a:
            raise CommandError(f"{doc} has no {begin} ... {end} markers")
        text = text[: a + len(begin)] + "\n" + make().strip("\n") + "\n" + text[b:]
    return text


class GeneratedDocCommand(BaseCommand):
    """Rewrite (or ``--check``) the generated sections of ``path``; subclasses set ``path``,
    ``command`` (their own name) and ``render`` (text → text)."""

    path: Path
    command: str

    def render(self, text: str) -> str:
        raise NotImplementedError

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="Change nothing; fail if out of date.")

    def handle(self, *args, check: bool = False, **options):
        name = f"docs/{self.path.name}"
        current = self.path.read_text()
        wanted = self.render(current)
        if wanted == current:
            self.stdout.write(f"{name} is up to date")
        elif check:
            raise CommandError(f"{name} is out of date with the code: run `python manage.py {self.command}`")
        else:
            self.path.write_text(wanted)
            self.stdout.write(f"{name} rewritten")
