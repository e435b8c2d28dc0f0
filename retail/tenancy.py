"""Brand scoping: the one place that decides which brand's rows code may see.

Two walls, both failing closed:

* In Python, brand-owned models' default manager refuses to build a query unless a brand
  scope is active (or the query names its brand explicitly with ``for_brand``), and filters
  by that brand.
* In PostgreSQL, every brand-owned table has a row-level security policy on the
  transaction-local setting ``app.brand_id``; a query in a transaction without it sees no
  rows, even with no WHERE clause at all.

``brand_scope`` sets both for one transaction; requests, Celery tasks and websocket
consumers all enter it. ``rls_bypass`` is the explicit, audited way out for platform
operator code.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

from django.db import connection, models, transaction
from django.http import Http404

if TYPE_CHECKING:
    from retail.models import Brand

logger = logging.getLogger(__name__)

_brand_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("brand_id", default=None)
_bypass: contextvars.ContextVar[bool] = contextvars.ContextVar("rls_bypass", default=False)
# The brand whose setting the current transaction carries in the database (set inside the
# transaction of a ``brand_scope`` or a request's ``enter_brand``, cleared before it ends, so the
# commit hooks that run after it do not count as inside). ``within_brand`` trusts only this.
_db_brand: contextvars.ContextVar[int | None] = contextvars.ContextVar("db_brand", default=None)

SETTING_BRAND = "app.brand_id"
SETTING_USER = "app.user_id"
SETTING_BYPASS = "app.bypass_rls"
# The OAuth2 application of a partner call: lets the token middleware read its partner app
# before the brand is known (retail/partners).
SETTING_APP = "app.oauth_application_id"
# What a device presents before its brand is known (devices/): its public id, the hash of a pairing
# code or of a websocket ticket. Each lets exactly the matching row be read.
SETTING_DEVICE = "app.device_uid"
SETTING_PAIRING = "app.pairing_code_hash"
SETTING_TICKET = "app.device_ticket_hash"


class TenancyError(RuntimeError):
    """Brand-owned data was touched without a brand scope, or across brands."""


def current_brand_id() -> int | None:
    """The brand id of the active scope, if any."""
    return _brand_id.get()


def bypass_active() -> bool:
    return _bypass.get()


def _brand_pk(brand: Brand | int) -> int:
    pk = brand if isinstance(brand, int) else brand.pk
    if not pk:
        raise TenancyError("a brand scope needs a saved brand")
    return int(pk)


def _uses_rls() -> bool:
    return connection.vendor == "postgresql"


def _get_settings(*names: str) -> list[str]:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT " + ", ".join(["coalesce(current_setting(%s, true), '')"] * len(names)),
            list(names),
        )
        return list(cur.fetchone())


def _set_settings(values: dict[str, str]) -> None:
    with connection.cursor() as cur:
        parts = ", ".join(["set_config(%s, %s, true)"] * len(values))
        params: list[str] = []
        for k, v in values.items():
            params += [k, v]
        cur.execute("SELECT " + parts, params)


@contextmanager
def db_settings(values: dict[str, str]) -> Iterator[None]:
    """Set transaction-local PostgreSQL settings inside an atomic block, restoring them after.

    ``set_config(..., true)`` lasts until the end of the transaction, so inside an outer
    transaction the previous values are put back on a normal exit (a nested scope must not leak
    into the rest of it); on an error the savepoint rollback undoes them.
    """
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if not _uses_rls():
            yield
            return
        if outermost:
            # A new transaction starts from the session's values, and every setting here is
            # transaction-local: nothing to read first or to put back (one round trip, not three).
            if any(values.values()):
                _set_settings(values)
            yield
            return
        names = list(values)
        previous = dict(zip(names, _get_settings(*names), strict=True))
        if previous != values:
            _set_settings(values)
        yield
        if previous != values:
            _set_settings(previous)


@contextmanager
def brand_scope(brand: Brand | int, *, user_id: int | None = None) -> Iterator[None]:
    """Run the block in one transaction that may see this brand's rows and no other brand's."""
    pk = _brand_pk(brand)
    outer = _brand_id.get()
    if outer is not None and outer != pk and not _bypass.get():
        raise TenancyError(f"brand scope {pk} opened inside brand scope {outer}")
    token = _brand_id.set(pk)
    try:
        values = {SETTING_BRAND: str(pk)}
        if user_id is not None:
            values[SETTING_USER] = str(user_id)
        with db_settings(values):
            db_token = _db_brand.set(pk)
            try:
                yield
            finally:
                _db_brand.reset(db_token)
    finally:
        _brand_id.reset(token)


def within_brand(brand: Brand | int) -> AbstractContextManager:
    """The brand's scope for a small read: nothing to open when the caller already runs in this
    brand's scope (a request's, or an outer ``brand_scope``), else a new ``brand_scope``. Saves the
    savepoint and setting round trips of a nested scope on hot pages. Where the brand is only
    named in Python (a task's ``brand_context``, a commit hook after the scope's transaction
    ended) and not set in the database transaction, a new ``brand_scope`` is opened."""
    return nullcontext() if _db_brand.get() == _brand_pk(brand) else brand_scope(brand)


class RequestScope:
    """The tenancy state of one request's transaction (see ``request_scope``)."""

    def __init__(self, rls: bool, brand_hint: int | None):
        self.rls = rls
        self.db_brand = brand_hint
        self.tokens: list[contextvars.Token] = []
        self.db_tokens: list[contextvars.Token] = []

    def enter_brand(self, brand_id: int) -> None:
        self.tokens.append(_brand_id.set(brand_id))
        if self.rls and self.db_brand != brand_id:
            _set_settings({SETTING_BRAND: str(brand_id)})
            self.db_brand = brand_id
        self.db_tokens.append(_db_brand.set(brand_id))

    def clear_brand(self) -> None:
        if self.rls and self.db_brand is not None:
            _set_settings({SETTING_BRAND: ""})
            self.db_brand = None
        self.db_tokens.append(_db_brand.set(None))

    def leave_transaction(self) -> None:
        for token in reversed(self.db_tokens):
            _db_brand.reset(token)
        self.db_tokens.clear()


@contextmanager
def request_scope(
    *, user_id: int | None, brand_hint: int | None = None, application_id: int | None = None
) -> Iterator[RequestScope]:
    """One request's transaction, with the user's setting and (optimistically) the brand the
    session names, written in one statement; the caller confirms the brand with
    ``enter_brand`` once the staff record is checked, or ``clear_brand``. A partner call names
    its token's OAuth2 ``application_id`` instead, so its partner app can be read before the
    brand is known.

    As the outermost transaction (always, when serving) the settings end with the commit;
    nested in an outer transaction (a test's) the previous values are put back afterwards.
    """
    rls = _uses_rls()
    nested = connection.in_atomic_block
    scope = RequestScope(rls, brand_hint if rls else None)
    previous: dict[str, str] = {}
    try:
        with transaction.atomic():
            if rls:
                names = (SETTING_USER, SETTING_BRAND) + ((SETTING_APP,) if application_id is not None else ())
                if nested:
                    previous = dict(zip(names, _get_settings(*names), strict=True))
                values = {}
                if user_id is not None:
                    values[SETTING_USER] = str(user_id)
                if brand_hint is not None:
                    values[SETTING_BRAND] = str(brand_hint)
                if application_id is not None:
                    values[SETTING_APP] = str(application_id)
                if values:
                    _set_settings(values)
            try:
                yield scope
            finally:
                scope.leave_transaction()
            # A block marked for rollback (a request that ended in a server error) puts the
            # settings back by rolling back its savepoint; no statement may run in it any more.
            if previous and not transaction.get_rollback():
                _set_settings(previous)
    finally:
        for token in reversed(scope.tokens):
            _brand_id.reset(token)


@contextmanager
def brand_context(brand: Brand | int) -> Iterator[None]:
    """Name the brand for Python-side scoping only, without opening a transaction.

    For long jobs whose services each open their own ``brand_scope`` transaction; a database
    read outside those still sees no rows (row-level security fails closed).
    """
    pk = _brand_pk(brand)
    outer = _brand_id.get()
    if outer is not None and outer != pk and not _bypass.get():
        raise TenancyError(f"brand context {pk} opened inside brand scope {outer}")
    token = _brand_id.set(pk)
    db_token = _db_brand.set(None)  # named, not set in any transaction
    try:
        yield
    finally:
        _db_brand.reset(db_token)
        _brand_id.reset(token)


@contextmanager
def user_scope(user_id: int) -> Iterator[None]:
    """Let the block see the user's own staff records in every brand (for the brand picker)."""
    with db_settings({SETTING_USER: str(user_id)}):
        yield


@contextmanager
def rls_bypass(*, reason: str, actor: Any = None, ip: str | None = None) -> Iterator[None]:
    """Platform-operator access to every brand's rows: explicit, audited, one transaction."""
    from retail import events

    if not reason:
        raise TenancyError("an RLS bypass needs a reason")
    token = _bypass.set(True)
    try:
        with db_settings({SETTING_BYPASS: "on"}):
            events.platform_bypass(actor=actor, reason=reason, ip=ip)
            logger.info("rls bypass: %s (actor=%s)", reason, getattr(actor, "pk", None))
            yield
    finally:
        _bypass.reset(token)


def assert_brand(brand: Brand | int) -> int:
    """Check that code working for ``brand`` is not inside another brand's scope."""
    pk = _brand_pk(brand)
    outer = _brand_id.get()
    if outer is not None and outer != pk and not _bypass.get():
        raise TenancyError(f"brand {pk} used inside brand scope {outer}")
    return pk


def _check_write(objs) -> None:
    if _bypass.get():
        return
    pk = _brand_id.get()
    for obj in objs:
        if pk is not None and obj.brand_id != pk:
            raise TenancyError(
                f"{type(obj).__name__} of brand {obj.brand_id} written inside brand scope {pk}"
            )


class BrandQuerySet(models.QuerySet):
    def for_brand(self, brand: Brand | int) -> BrandQuerySet:
        return self.filter(brand_id=assert_brand(brand))

    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        _check_write(objs)
        return super().bulk_create(objs, *args, **kwargs)


class BrandManager(models.Manager.from_queryset(BrandQuerySet)):  # type: ignore[misc]
    """Default manager of brand-owned models: the active scope's rows, or an error."""

    def get_queryset(self) -> BrandQuerySet:
        qs = super().get_queryset()
        if _bypass.get():
            return qs
        pk = _brand_id.get()
        if pk is None:
            raise TenancyError(
                f"{self.model.__name__} queried without a brand scope; "
                "use .for_brand(brand) or enter brand_scope()"
            )
        return qs.filter(brand_id=pk)

    def for_brand(self, brand: Brand | int) -> BrandQuerySet:
        return BrandQuerySet(self.model, using=self._db).filter(brand_id=assert_brand(brand))


class BrandOwned(models.Model):
    """Base of every brand-owned model: non-null brand, scoped default manager, RLS policy."""

    brand = models.ForeignKey("retail.Brand", on_delete=models.PROTECT, related_name="+")

    objects = BrandManager()
    # Unscoped access for platform code and Django internals; PostgreSQL RLS still applies.
    unscoped = models.Manager()

    class Meta:
        abstract = True
        base_manager_name = "unscoped"

    def save(self, *args, **kwargs) -> None:
        # A tenancy guard, not business logic: a row of one brand is never written in another's scope.
        _check_write([self])
        super().save(*args, **kwargs)


def brand_owned_models() -> list[type[models.Model]]:
    from django.apps import apps

    return [m for m in apps.get_models() if issubclass(m, BrandOwned)]


def get_for_brand_or_404(model_or_qs: Any, brand: Brand | int, **lookup: Any) -> Any:
    """The one lookup-by-id helper: the object if it belongs to ``brand``, else 404."""
    if isinstance(model_or_qs, models.QuerySet):
        qs = model_or_qs.filter(brand_id=assert_brand(brand))
    else:
        qs = model_or_qs.objects.for_brand(brand)
    try:
        return qs.get(**lookup)
    except (qs.model.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404(f"No {qs.model._meta.verbose_name} matches the given query.") from exc
