"""Brand scoping in Python and row-level security in PostgreSQL."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.http import Http404

from retail.models import AuditLog, Staff, StaffStore, Store
from retail.tenancy import (
    BrandManager,
    TenancyError,
    brand_owned_models,
    brand_scope,
    get_for_brand_or_404,
    rls_bypass,
)
from tests.factories import StaffFactory, StoreFactory

pytestmark = pytest.mark.django_db


def _raw(sql, params=None):
    with connection.cursor() as cur:
        cur.execute(sql, params or [])
        return cur.fetchall()


# --- Python wall ------------------------------------------------------------------------


def test_default_manager_fails_closed_without_scope(store):
    with pytest.raises(TenancyError):
        list(Store.objects.all())
    with pytest.raises(TenancyError):
        Store.objects.filter(pk=store.pk).exists()


def test_default_manager_filters_by_active_scope(store, other_store, brand, other_brand):
    with brand_scope(brand):
        assert list(Store.objects.values_list("code", flat=True)) == ["SH001"]
    with brand_scope(other_brand):
        assert list(Store.objects.values_list("code", flat=True)) == ["HZ001"]


def test_for_brand_inside_another_brands_scope_is_refused(brand, other_brand, store):
    with brand_scope(brand), pytest.raises(TenancyError):
        Store.objects.for_brand(other_brand)


def test_nested_scope_of_another_brand_is_refused(brand, other_brand):
    with brand_scope(brand), pytest.raises(TenancyError), brand_scope(other_brand):
        pass


def test_lookup_helper_404s_across_brands(brand, other_brand, store, other_store):
    with brand_scope(brand):
        assert get_for_brand_or_404(Store, brand, pk=store.pk) == store
        with pytest.raises(Http404):
            get_for_brand_or_404(Store, brand, pk=other_store.pk)
        with pytest.raises(Http404):
            get_for_brand_or_404(Store, brand, pk="not-a-number")


def test_every_brand_owned_model_is_scoped():
    models = brand_owned_models()
    assert {m.__name__ for m in models} >= {"Store", "Staff", "StaffStore", "Invitation"}
    for model in models:
        assert model._meta.get_field("brand").null is False, model
        # BrandManager, or a narrower one (Staff.objects: people only, not partner apps' accounts).
        assert isinstance(model._default_manager, BrandManager), model
        for constraint in model._meta.constraints:
            fields = getattr(constraint, "fields", ())
            if fields:
                assert "brand" in fields, f"{model.__name__}.{constraint.name} must include brand"


# --- PostgreSQL wall ---------------------------------------------------------------------


@pytest.mark.postgres
def test_application_role_is_subject_to_rls():
    ((rolsuper, rolbypassrls),) = _raw(
        "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
    )
    assert not rolsuper and not rolbypassrls, "connect as an ordinary role, or RLS does not apply"


@pytest.mark.postgres
def test_every_brand_owned_table_has_forced_rls():
    tables = [m._meta.db_table for m in brand_owned_models()] + [AuditLog._meta.db_table]
    rows = dict(
        (name, (enabled, forced))
        for name, enabled, forced in _raw(
            "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = ANY(%s)",
            [tables],
        )
    )
    for table in tables:
        assert rows.get(table) == (True, True), f"{table} lacks forced row-level security"


@pytest.mark.postgres
def test_raw_sql_without_where_sees_only_the_scoped_brand(store, other_store, brand, other_brand):
    with transaction.atomic():
        # No scope at all: nothing, not even with no WHERE clause.
        assert _raw("SELECT code FROM retail_store") == []
    with brand_scope(brand):
        assert _raw("SELECT code FROM retail_store") == [("SH001",)]
        assert _raw("SELECT count(*) FROM retail_store WHERE brand_id = %s", [other_brand.pk]) == [(0,)]
    with brand_scope(other_brand):
        assert _raw("SELECT code FROM retail_store") == [("HZ001",)]


@pytest.mark.postgres
def test_raw_update_and_insert_cannot_touch_another_brand(store, other_store, brand, other_brand):
    with brand_scope(brand):
        with connection.cursor() as cur:
            cur.execute("UPDATE retail_store SET name = 'hacked'")
            assert cur.rowcount == 1
        with (
            pytest.raises(Exception, match="row-level security"),
            transaction.atomic(),
            connection.cursor() as cur,
        ):
            cur.execute(
                "INSERT INTO retail_store (brand_id, code, name, address, geofence_radius_m, timezone,"
                " opens_at, closes_at, status, created_at) VALUES (%s, 'X1', 'x', '', 100,"
                " 'Asia/Shanghai', '10:00', '22:00', 'open', now())",
                [other_brand.pk],
            )
    with brand_scope(other_brand):
        assert Store.objects.get().name == "西湖店"


@pytest.mark.postgres
def test_scope_setting_does_not_outlive_its_transaction(brand, store):
    with brand_scope(brand):
        assert _raw("SELECT current_setting('app.brand_id', true)") == [(str(brand.pk),)]
    with transaction.atomic():
        assert _raw("SELECT coalesce(current_setting('app.brand_id', true), '')") == [("",)]


@pytest.mark.postgres
def test_staff_rows_of_the_user_are_visible_across_brands_but_not_others(brand, other_brand):
    promoter = StaffFactory(brand=brand)
    StaffFactory(brand=other_brand, user=promoter.user)
    stranger = StaffFactory(brand=other_brand)
    from retail.selectors import membership_list

    with transaction.atomic():
        brands = {s.brand_id for s in membership_list(user=promoter.user)}
        assert brands == {brand.pk, other_brand.pk}
        assert stranger.brand_id in brands  # same brand, but the stranger's row stays hidden:
        assert [s.pk for s in membership_list(user=promoter.user) if s.user_id == stranger.user_id] == []


@pytest.mark.postgres
def test_links_cannot_cross_brands_even_in_bypass(brand, other_brand, store, other_store):
    staff = StaffFactory(brand=brand, stores=[store])
    with pytest.raises(IntegrityError), rls_bypass(reason="test"):
        StaffStore.unscoped.create(brand=brand, staff=staff, store=other_store)
        connection.check_constraints()
        with connection.cursor() as cur:
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")


@pytest.mark.postgres
def test_audit_log_is_append_only_in_the_database(brand, brand_admin):
    with brand_scope(brand):
        AuditLog.unscoped.create(brand=brand, action="test.event")
        with pytest.raises(Exception, match="append-only"), transaction.atomic():
            AuditLog.unscoped.filter(brand=brand).update(action="tampered")


def test_bypass_is_audited_and_sees_every_brand(store, other_store):
    with rls_bypass(reason="support ticket 42"):
        assert Store.objects.count() == 2
    with rls_bypass(reason="read audit"):
        entry = AuditLog.objects.filter(action="platform.rls_bypass").order_by("-id").first()
    assert entry.data == {"reason": "read audit"}  # written as the bypass begins
    with rls_bypass(reason="count"):
        assert AuditLog.objects.filter(action="platform.rls_bypass").count() == 3


def test_bypass_needs_a_reason():
    with pytest.raises(TenancyError), rls_bypass(reason=""):
        pass


def test_staff_of_brand_scope_manager_never_returns_other_brand(brand, other_brand):
    StaffFactory(brand=brand)
    StaffFactory(brand=other_brand)
    with brand_scope(brand):
        assert {s.brand_id for s in Staff.objects.all()} == {brand.pk}


def test_store_code_unique_per_brand_only(brand, other_brand):
    StoreFactory(brand=brand, code="A1")
    StoreFactory(brand=other_brand, code="A1")
    with pytest.raises(IntegrityError), transaction.atomic():
        StoreFactory(brand=brand, code="A1")


@pytest.mark.postgres
def test_deploy_check_passes_for_the_application_role():
    from retail.checks import database_role_is_bound_by_rls

    assert database_role_is_bound_by_rls() == []


def test_within_brand_reuses_the_scope_the_caller_runs_in(brand):
    """Inside this brand's scope nothing is opened (no savepoint, no setting round trip); outside
    any scope it is a brand_scope of its own."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from retail.tenancy import brand_scope, current_brand_id, within_brand

    with brand_scope(brand):
        with CaptureQueriesContext(connection) as ctx, within_brand(brand):
            assert current_brand_id() == brand.pk
        assert ctx.captured_queries == []
    assert current_brand_id() is None
    with within_brand(brand):
        assert current_brand_id() == brand.pk
    assert current_brand_id() is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_outermost_scope_sets_the_brand_in_one_round_trip_and_leaves_nothing_behind(brand, other_brand):
    """A scope that opens the transaction sets its brand once (no read first, nothing restored:
    the setting is transaction-local); the next transaction, scoped or not, starts clean; a scope
    nested in another transaction still puts the outer value back."""
    from django.test.utils import CaptureQueriesContext

    assert not connection.in_atomic_block
    with CaptureQueriesContext(connection) as ctx, brand_scope(brand):
        assert _raw("SELECT current_setting('app.brand_id', true)") == [(str(brand.pk),)]
    settings_sql = [
        q["sql"] for q in ctx.captured_queries if "current_setting" in q["sql"] or "set_config" in q["sql"]
    ]
    assert len(settings_sql) == 2  # the set_config and the check above
    assert _raw("SELECT coalesce(current_setting('app.brand_id', true), '')") == [("",)]
    with brand_scope(other_brand):
        assert _raw("SELECT current_setting('app.brand_id', true)") == [(str(other_brand.pk),)]
    with transaction.atomic():
        _raw("SELECT set_config('app.brand_id', %s, true)", [str(other_brand.pk)])
        with brand_scope(brand):
            assert _raw("SELECT current_setting('app.brand_id', true)") == [(str(brand.pk),)]
        assert _raw("SELECT current_setting('app.brand_id', true)") == [(str(other_brand.pk),)]
