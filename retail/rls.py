"""PostgreSQL row-level security for brand-owned tables, as a migration operation.

Each brand-owned table gets ENABLE + FORCE ROW LEVEL SECURITY (FORCE so the table owner,
which the application connects as, is subject too) and one policy: rows of the brand in
``app.brand_id``, or every row while ``app.bypass_rls`` is on (platform operator code).
Both settings are transaction-local (``set_config(..., true)``), so nothing outlives its
transaction on a pooled connection. On other databases the operation does nothing.
"""

from __future__ import annotations

from django.db.migrations.operations.base import Operation

BYPASS = "current_setting('app.bypass_rls', true) = 'on'"
BRAND_MATCH = "brand_id = nullif(current_setting('app.brand_id', true), '')::bigint"
USER_MATCH = "user_id = nullif(current_setting('app.user_id', true), '')::bigint"


class EnableRowLevelSecurity(Operation):
    """Turn on RLS for ``table``; ``also_visible`` widens reads (never writes) to more rows."""

    reduces_to_sql = True
    reversible = True

    def __init__(self, table: str, also_visible: str = ""):
        self.table = table
        self.also_visible = also_visible

    def state_forwards(self, app_label, state):
        pass

    def _sql(self) -> list[str]:
        using = f"{BYPASS} OR {BRAND_MATCH}" + (f" OR {self.also_visible}" if self.also_visible else "")
        check = f"{BYPASS} OR {BRAND_MATCH}"
        t = self.table
        return [
            f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY",
            f"ALTER TABLE {t} FORCE ROW LEVEL SECURITY",
            f"DROP POLICY IF EXISTS brand_isolation ON {t}",
            f"CREATE POLICY brand_isolation ON {t} USING ({using}) WITH CHECK ({check})",
        ]

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        for sql in self._sql():
            schema_editor.execute(sql)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        t = self.table
        schema_editor.execute(f"DROP POLICY IF EXISTS brand_isolation ON {t}")
        schema_editor.execute(f"ALTER TABLE {t} NO FORCE ROW LEVEL SECURITY")
        schema_editor.execute(f"ALTER TABLE {t} DISABLE ROW LEVEL SECURITY")

    def describe(self):
        return f"Enable row-level security on {self.table}"


class PostgresSQL(Operation):
    """Raw SQL that only PostgreSQL runs (composite foreign keys, triggers)."""

    reduces_to_sql = True
    reversible = True

    def __init__(self, sql: list[str], reverse_sql: list[str]):
        self.sql = sql
        self.reverse_sql = reverse_sql

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            for s in self.sql:
                schema_editor.execute(s)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            for s in self.reverse_sql:
                schema_editor.execute(s)

    def describe(self):
        return "PostgreSQL-only SQL"


def same_brand_fk(table: str, column: str, ref_table: str) -> PostgresSQL:
    """A composite foreign key (brand_id, column) -> ref_table(brand_id, id): links stay in one brand."""
    name = f"{table}_{column}_same_brand"[:63]
    return PostgresSQL(
        [
            f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY (brand_id, {column}) "
            f"REFERENCES {ref_table} (brand_id, id) DEFERRABLE INITIALLY DEFERRED"
        ],
        [f"ALTER TABLE {table} DROP CONSTRAINT {name}"],
    )


def append_only(table: str) -> PostgresSQL:
    """Refuse UPDATE and DELETE on ``table`` (TRUNCATE by the owner stays possible for test resets)."""
    fn = f"{table}_append_only"
    return PostgresSQL(
        [
            f"CREATE OR REPLACE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{table} is append-only'; END $$",
            f"CREATE TRIGGER {fn} BEFORE UPDATE OR DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION {fn}()",
        ],
        [f"DROP TRIGGER IF EXISTS {fn} ON {table}", f"DROP FUNCTION IF EXISTS {fn}()"],
    )
