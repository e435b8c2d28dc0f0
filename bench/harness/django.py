"""Django setup for the benchmark's processes, in one place."""

from __future__ import annotations

import os
import sys


def setup(database_prefix: str | None = None) -> None:
    """django.setup(); with ``database_prefix``, refuse any database but the benchmark's own
    (PostgreSQL, name starting with the prefix)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "retail.settings")
    import django

    django.setup()
    if database_prefix is None:
        return
    from django.conf import settings
    from django.db import connection

    name = str(settings.DATABASES["default"]["NAME"])
    if connection.vendor != "postgresql" or not name.startswith(database_prefix):
        sys.exit(f"bench: refusing database {name!r}: only {database_prefix}* (PostgreSQL)")
