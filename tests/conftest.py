import contextlib
import os

import pytest
from django.db import connection

from retail.middleware import SESSION_BRAND_KEY
from retail.models import Staff
from tests.factories import BrandFactory, StaffFactory, StoreFactory

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(config, items):
    """Tests marked 'postgres' skip on SQLite only; on PostgreSQL (CI) they always run."""
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _locale_and_outbox(settings):
    from retail.notify import ConsoleSender

    ConsoleSender.outbox.clear()
    # A request in English leaves English active on this thread: every test starts in the
    # default language, as every real request does.
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    # Password hashing is deliberately slow; tests don't need that.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Tasks run in-process unless a test starts a real worker (see test_tasks.py).
    from retail.celery import app

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = eager


@pytest.fixture(autouse=True)
def _private_files(settings, tmp_path_factory):
    """Files with personal data go to a temporary private folder, never the working tree's var/."""
    settings.PRIVATE_MEDIA_ROOT = tmp_path_factory.mktemp("private")


@pytest.fixture
def brand(db):
    return BrandFactory(name="悦颜美妆", slug="yueyan")


@pytest.fixture
def other_brand(db):
    return BrandFactory(name="森活超市", slug="senhuo")


@pytest.fixture
def store(brand):
    return StoreFactory(brand=brand, code="SH001", name="南京西路店")


@pytest.fixture
def other_store(other_brand):
    return StoreFactory(brand=other_brand, code="HZ001", name="西湖店")


@pytest.fixture
def brand_admin(brand):
    return StaffFactory(brand=brand, role=Staff.Role.BRAND_ADMIN, name="林雅")


@pytest.fixture
def store_manager(brand, store):
    return StaffFactory(brand=brand, role=Staff.Role.STORE_MANAGER, stores=[store], name="陈晓")


@pytest.fixture
def guide(brand, store):
    return StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store], name="王芳")


@pytest.fixture
def other_admin(other_brand):
    return StaffFactory(brand=other_brand, role=Staff.Role.BRAND_ADMIN, name="孙磊")


def refresh(obj):
    """Reload a brand-owned object inside its brand's scope (the way code outside a request must)."""
    from retail.tenancy import brand_scope

    with brand_scope(obj.brand_id):
        obj.refresh_from_db()
    return obj


def login_as(client, staff: Staff):
    """Log the staff member's user in and pick the staff member's brand."""
    client.force_login(staff.user, backend="retail.auth_backends.PhoneOrUsernameBackend")
    session = client.session
    session[SESSION_BRAND_KEY] = staff.brand_id
    session.save()
    return client


@pytest.fixture
def as_admin(client, brand_admin):
    return login_as(client, brand_admin)


@pytest.fixture
def is_postgres():
    return connection.vendor == "postgresql"


def _forget_queues(app) -> None:
    # Celery caches the default queue and the routing table the first time it sends a task.
    for name in ("default_queue", "queues", "router"):
        app.amqp.__dict__.pop(name, None)


@contextlib.contextmanager
def real_worker():
    """A Celery worker thread consuming a fresh queue on the real broker, for the block."""
    import time

    from celery.contrib.testing.worker import start_worker

    from retail.celery import app

    app.conf.task_always_eager = False
    app.conf.task_default_queue = "test-" + str(time.time_ns())
    _forget_queues(app)
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            yield
    finally:
        app.conf.task_default_queue = "celery"
        _forget_queues(app)
