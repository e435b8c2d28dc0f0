"""System checks: the database role must be one that row-level security binds."""

from django.core import checks
from django.db import connection


@checks.register(checks.Tags.database, deploy=True)
def database_role_is_bound_by_rls(app_configs=None, databases=None, **kwargs):
    if connection.vendor != "postgresql":
        return []
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            row = cur.fetchone()
    except Exception as exc:  # the database may be unreachable while building an image
        return [checks.Warning(f"Could not check the database role: {exc}", id="retail.W001")]
    if row and (row[0] or row[1]):
        return [
            checks.Error(
                "The application connects to PostgreSQL as a superuser or BYPASSRLS role, so "
                "row-level security does not isolate brands.",
                hint="Connect as an ordinary role that owns the tables (see docs/operations.md).",
                id="retail.E001",
            )
        ]
    return []


@checks.register(checks.Tags.models)
def private_files_expire(app_configs=None, **kwargs):
    """A model keeping files with personal data must let them expire (retail/private_files.py)."""
    from retail.private_files import check_models

    return check_models()
