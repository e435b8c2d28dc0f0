"""Devices in the brand console in headless Chromium: a brand admin opens the device list (which
refreshes itself), adds a device, reads its pairing code and QR on the page that shows them once,
opens the device's page; a store manager does the same at phone size. Screenshots go to
artifacts/screenshots/devices-*-{phone,desktop}.png.

Hooks are data-testid attributes and form names, not wording: the Chinese comes separately."""

from __future__ import annotations

import datetime
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from devices import services
from devices.models import Device, DeviceEvent
from retail.events import Actor
from retail.tenancy import brand_scope
from tests.factories import PASSWORD
from tests.helpers.browser import ENGLISH, login, no_horizontal_overflow, shot
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.e2e

CODE = re.compile(r"^[A-Z0-9]{4}-[A-Z0-9]{4}$")


def check(page, name: str):
    assert no_horizontal_overflow(page), f"{name} overflows at {page.size_name}"
    assert page.evaluate(
        "Array.from(document.styleSheets).some(s => (s.href || '').includes('devices-dash.css'))"
    )
    words = page.evaluate(
        "(() => { const m = document.querySelector('main').cloneNode(true);"
        " m.querySelectorAll('pre, code, input, .mono').forEach(e => e.remove()); return m.innerText; })()"
    )
    leaked = ENGLISH.findall(words)
    assert not leaked, f"English on {name}: {leaked}"
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", words), f"a code on {name}"
    page.evaluate("window.scrollTo(0, 0)")
    return shot(page, name)


def _devices(demo):
    """Two stores' devices: one online with a clock 2.3 s fast and events, one offline, one not paired."""
    brand, admin = demo["brand"], demo["admin"]
    sh1, sh2, _bj1 = demo["stores"]
    system = Actor.system()
    made = {}
    for key, store, name, kind, pair in (
        ("door", sh1, "员工通道门禁", "both", True),
        ("back", sh1, "仓库后门", "door", True),
        ("other", sh2, "徐家汇考勤机", "clock_in", False),
    ):
        device, code = services.device_create(
            brand=brand, manager=admin, actor=system, store=store, data={"name": name, "kind": kind}
        )
        if pair:
            device, _secret = services.device_pair(code=code, app_version="1.4.2", firmware_version="3.0.7")
        made[key] = device
    now = timezone.now()
    with brand_scope(brand):
        Device.objects.filter(pk=made["door"].pk).update(
            status="online",
            connection="specific.fake!e2e",
            last_seen_at=now,
            last_connected_at=now - datetime.timedelta(hours=2),
            clock_skew_ms=2300,
            remote_ip="10.0.8.21",
        )
        Device.objects.filter(pk=made["back"].pk).update(
            status="offline", last_seen_at=now - datetime.timedelta(minutes=3)
        )
        guide = demo["guide"]
        for i, (kind, payload) in enumerate(
            [
                ("punch", {"method": "face", "staff": guide.pk}),
                ("door_opened", {"method": "face", "staff": guide.pk}),
                ("punch", {"method": "pin", "staff": demo["manager"].pk, "reason": "戴口罩识别失败"}),
                ("door_opened", {"method": "remote"}),
                ("tamper", {"detail": "外壳被打开"}),
            ]
        ):
            at = now - datetime.timedelta(minutes=5 * (5 - i))
            DeviceEvent.objects.create(
                brand=brand,
                device=made["door"],
                event_id=f"e{i}",
                type=kind,
                device_time=at,
                occurred_at=at,
                payload=payload,
                offline=i == 2,
            )
    return made


def _add_device(page, name: str, store_name: str | None = None):
    page.get_by_test_id("new-device").first.click()
    page.wait_for_url("**/dashboard/devices/new/")
    if store_name:
        page.select_option("select[name=store]", label=store_name)
    page.fill("input[name=name]", name)
    page.fill("input[name=location]", "一楼员工入口")
    page.check("input[name=kind][value=door]")
    check(page, "devices-new")
    page.get_by_test_id("device-create").click()
    page.get_by_test_id("pairing-once").wait_for()


def _pairing(page, brand, name: str):
    code = page.inner_text("[data-testid=pairing-code]").strip()
    assert CODE.match(code), code
    expect(page.locator("[data-testid=pairing-qr] svg")).to_be_visible()
    box = page.locator("[data-testid=pairing-qr] svg").bounding_box()
    assert box["width"] >= 180 and box["height"] >= 180
    # the countdown runs: mm:ss under ten minutes
    page.wait_for_function(
        "/^(0\\d|10):\\d\\d$/.test(document.querySelector('[data-countdown]').textContent.trim())"
    )
    assert f"code={code.replace('-', '')}" in page.inner_text("[data-testid=kiosk-link]")
    with brand_scope(brand):
        device = Device.objects.get(name=name)
    check(page, "devices-pairing")
    return code, device


def test_admin_lists_adds_and_pairs_a_device(browse, demo):
    brand = demo["brand"]
    made = _devices(demo)
    page = browse.page("desktop")
    login(page, "yy_admin", PASSWORD)
    page.get_by_test_id("nav-devices").click()
    page.wait_for_url("**/dashboard/devices/")
    assert page.locator("tr[data-testid^=device-]").count() == 3
    assert page.inner_text("[data-testid=count-online]").startswith("1")
    row = page.locator(f"tr[data-testid=device-{made['back'].pk}]")
    assert "3 分钟前" in row.inner_text().replace("\xa0", " ")
    check(page, "devices-list")

    # the list refreshes itself: the back door comes online without a reload
    with brand_scope(brand):
        Device.objects.filter(pk=made["back"].pk).update(status="online", last_seen_at=timezone.now())
    wait_until(
        lambda: row.locator("[data-state=online]").count() == 1,
        15,
        "the list refreshed the back door's state",
    )
    assert page.inner_text("[data-testid=count-online]").startswith("2")

    # filter by state
    page.select_option("select[name=status]", "unpaired")
    page.wait_for_function("document.querySelectorAll('tr[data-testid^=device-]').length === 1")
    assert "status=unpaired" in page.url

    _add_device(page, "前门门禁", "上海南京西路店")
    code, device = _pairing(page, brand, "前门门禁")
    # the code works for a device, once
    paired, _secret = services.device_pair(code=code)
    assert paired.pk == device.pk
    page.get_by_test_id("pairing-done").click()
    page.wait_for_url(f"**/dashboard/devices/{device.pk}/")
    assert code not in page.content()
    check(page, "devices-detail-new")

    page.goto(f"/dashboard/devices/{made['door'].pk}/")
    assert "设备时钟快 2.3 秒" in page.inner_text("[data-testid=device-facts]")
    assert page.locator("tr[data-testid^=event-]").count() == 5
    assert "王芳" in page.inner_text("[data-testid=device-events]")
    page.select_option("[data-testid=event-type]", "punch")
    page.wait_for_function("document.querySelectorAll('tr[data-testid^=event-]').length === 2")
    page.select_option("[data-testid=event-type]", "")
    page.wait_for_function("document.querySelectorAll('tr[data-testid^=event-]').length === 5")
    # open the door with a reason
    page.fill("input[name=reason]", "快递到了")
    page.get_by_test_id("open-door").click()
    page.wait_for_load_state()
    assert page.locator("tr[data-testid^=command-]").count() == 1
    assert "快递到了" in page.inner_text("#commands")
    check(page, "devices-detail")

    # rotating needs a confirm step, then shows a new code once
    page.get_by_test_id("rotate").click()
    page.get_by_test_id("rotate-confirm").click()
    page.get_by_test_id("pairing-once").wait_for()
    assert CODE.match(page.inner_text("[data-testid=pairing-code]").strip())
    with brand_scope(brand):
        assert not Device.objects.get(pk=made["door"].pk).secret_hash


def test_a_store_manager_at_phone_size(browse, demo):
    brand = demo["brand"]
    made = _devices(demo)
    page = browse.page("phone")
    login(page, "yy_manager", PASSWORD)
    page.goto("/dashboard/devices/")
    # only their store's devices
    assert page.locator("tr[data-testid^=device-]").count() == 2
    assert page.locator(f"tr[data-testid=device-{made['other'].pk}]").count() == 0
    check(page, "devices-list")
    _add_device(page, "员工休息室考勤")
    _code, device = _pairing(page, brand, "员工休息室考勤")
    page.get_by_test_id("pairing-done").click()
    page.wait_for_url(f"**/dashboard/devices/{device.pk}/")
    check(page, "devices-detail-new")
    page.goto(f"/dashboard/devices/{made['door'].pk}/")
    # a bad setting shows on its field and changes nothing
    page.fill("input[name=door_open_seconds]", "45")
    page.get_by_test_id("save-settings").click()
    page.wait_for_load_state()
    assert page.locator("#settings .field-error").count() >= 1
    check(page, "devices-detail-errors")
    page.fill("input[name=door_open_seconds]", "8")
    for day in ("1", "2"):  # the weekday chips are labels around hidden ticks
        page.click(f"[data-testid=window-0] label.dvc-day:has(input[value='{day}'])")
    page.fill("input[name=w-0-start]", "08:00")
    page.fill("input[name=w-0-end]", "21:30")
    page.get_by_test_id("save-settings").click()
    page.wait_for_load_state()
    with brand_scope(brand):
        config = Device.objects.get(pk=made["door"].pk).config
    assert config["door_open_seconds"] == 8
    assert config["door_windows"] == [{"days": [1, 2], "start": "08:00", "end": "21:30"}]
    check(page, "devices-detail")
