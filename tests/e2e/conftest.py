"""Headless Chromium (Debian's) driven by Playwright's sync API against pytest-django's live server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from retail.models import Staff
from tests.factories import BrandFactory, StaffFactory, StoreFactory, UserFactory
from tests.helpers.browser import DESKTOP, PHONE

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


def chromium(*extra_args: str):
    """Headless Chromium for a module's tests (a generator for a module fixture to yield from)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    with sync_api.sync_playwright() as pw:
        args = CHROMIUM_ARGS + list(extra_args)
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
        yield browser
        browser.close()


def camera_chromium(camera_file: Path):
    """Chromium whose camera is the video file ``camera_file`` (Y4M), allowed without asking."""
    yield from chromium(
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={camera_file}",
        "--autoplay-policy=no-user-gesture-required",
    )


@pytest.fixture(scope="module")
def browser():
    # Not session-wide: the sync API keeps an event loop running in this thread, which would
    # break async_to_sync in the tests that run after these.
    yield from chromium()


class Browse:
    """Opens browser contexts at phone or desktop size, as a Chinese-speaking user would."""

    def __init__(self, browser, base_url: str):
        self.browser = browser
        self.base_url = base_url
        self.contexts = []

    def page(self, size: str = "desktop", locale: str = "zh-CN"):
        viewport = PHONE if size == "phone" else DESKTOP
        context = self.browser.new_context(
            base_url=self.base_url,
            viewport=viewport,
            locale=locale,
            timezone_id="Asia/Shanghai",
            is_mobile=size == "phone",
            has_touch=size == "phone",
            device_scale_factor=1,
        )
        context.set_default_timeout(10_000)
        self.contexts.append(context)
        page = context.new_page()
        page.size_name = size
        return page

    def close(self):
        for context in self.contexts:
            context.close()


@pytest.fixture
def browse(browser, live_server):
    b = Browse(browser, live_server.url)
    yield b
    b.close()


@pytest.fixture
def demo(transactional_db):
    """A small brand like the demo data: stores, one person of every role, a promoter at two brands."""
    yueyan = BrandFactory(name="悦颜美妆", slug="yueyan")
    senhuo = BrandFactory(name="森活超市", slug="senhuo")
    sh1 = StoreFactory(
        brand=yueyan, code="SH001", name="上海南京西路店", address="上海市静安区南京西路1618号"
    )
    sh2 = StoreFactory(brand=yueyan, code="SH002", name="上海徐家汇店", address="上海市徐汇区虹桥路1号")
    bj1 = StoreFactory(brand=yueyan, code="BJ001", name="北京三里屯店", address="北京市朝阳区三里屯路19号")
    hz1 = StoreFactory(brand=senhuo, code="HZ001", name="杭州西湖店", address="杭州市西湖区文三路259号")

    def person(brand, username, phone, name, role, stores, user=None):
        user = user or UserFactory(username=username, phone=phone, display_name=name)
        return StaffFactory(
            brand=brand, user=user, name=name, role=role, stores=stores, hired_on="2025-03-01"
        )

    admin = person(yueyan, "yy_admin", "13800000001", "林雅", Staff.Role.BRAND_ADMIN, [])
    manager = person(yueyan, "yy_manager", "13800000002", "陈晓", Staff.Role.STORE_MANAGER, [sh1])
    guide = person(yueyan, "yy_guide1", "13800000003", "王芳", Staff.Role.GUIDE, [sh1])
    guide2 = person(yueyan, "yy_guide2", "13800000004", "李娜", Staff.Role.GUIDE, [sh2])
    clerk = person(yueyan, "yy_staff", "13800000005", "赵强", Staff.Role.STAFF, [bj1])
    promoter = person(yueyan, "promoter", "13900000009", "周敏", Staff.Role.GUIDE, [sh2])
    person(senhuo, "", "", "周敏", Staff.Role.GUIDE, [hz1], user=promoter.user)
    other_admin = person(senhuo, "sh_admin", "13700000001", "孙磊", Staff.Role.BRAND_ADMIN, [])
    return {
        "brand": yueyan,
        "other_brand": senhuo,
        "stores": [sh1, sh2, bj1],
        "admin": admin,
        "manager": manager,
        "guide": guide,
        "guide2": guide2,
        "clerk": clerk,
        "promoter": promoter,
        "other_admin": other_admin,
    }
