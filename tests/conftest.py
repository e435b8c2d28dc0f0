import os

import pytest
from django.conf import settings as django_settings
from django.db import connection

from retail.models import Staff
from tests.factories import BrandFactory, StaffFactory, StoreFactory
from tests.helpers.auth import login_as
from tests.helpers.sandbox import fresh_cache_keys, keep_workers_apart

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
keep_workers_apart(django_settings)


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
def _own_cache_and_files(settings, tmp_path_factory):
    """Each test has its own cache keys (one-time codes, cool-downs, throttles, the payment and
    payout simulators' records) and its own media and private folders, never the working tree's."""
    fresh_cache_keys(settings)
    settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")
    settings.PRIVATE_MEDIA_ROOT = tmp_path_factory.mktemp("private")


@pytest.fixture(autouse=True)
def _webhooks_reach_local_receivers(settings):
    """Test receivers listen on 127.0.0.1: webhooks may post to private addresses in tests
    (retail/webhooks/sender.py; the tests of the refusal turn it off)."""
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True


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


@pytest.fixture
def as_admin(client, brand_admin):
    return login_as(client, brand_admin)


@pytest.fixture
def is_postgres():
    return connection.vendor == "postgresql"


@pytest.fixture
def in_memory_channel_layer(settings):
    """Sockets tested in this process (channels' communicators) carry their messages on the
    in-memory channel layer: cancelling a channels-redis receive when a test's event loop closes can
    hang. The Redis layer is exercised against a real server (tests/devices/test_simulator.py)."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
