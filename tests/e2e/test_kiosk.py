"""The web kiosk in headless Chromium against the real ASGI application (uvicorn on a thread,
websockets included), with a fake camera playing a still photo.

A tablet opens /kiosk/?code=… from the console's QR, pairs and comes online; it clocks in by face
(the person enrolled from the same photo is named, the door opens; the identify event keeps no
image) and by PIN (checked by the server); the console opens the door through it; a PIN punch
made offline arrives once after the network is back and becomes an offline punch. A second
tablet with the same credential replaces the first; disabling the device sends it back to
pairing. Screenshots at 1280x800 and 390x844 go to artifacts/screenshots/kiosk-*.png."""

from __future__ import annotations

import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.db import connections
from playwright.sync_api import expect

from attendance import gallery
from attendance.models import Punch
from devices import channels as device_channels
from devices import services
from devices.models import Device, DeviceCommand, DeviceEvent
from retail.events import Actor
from retail.models import Staff
from retail.tenancy import brand_scope
from tests.attendance.kiosk_helpers import enroll, set_pin
from tests.e2e.asgi_server import AsgiServer
from tests.e2e.conftest import camera_chromium
from tests.factories import StaffFactory
from tests.helpers.browser import SCREENSHOTS, no_horizontal_overflow
from tests.helpers.devices import make_device
from tests.helpers.faces import FACES
from tests.helpers.waiting import wait_until

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    # WhiteNoise's static files through Django's ASGI handler.
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators"),
]

TABLET = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
FACE = FACES / "obama.jpg"


@pytest.fixture(scope="module")
def camera_file(tmp_path_factory) -> Path:
    """A short Y4M clip for Chromium's fake camera: a face photo when there is one, else a test
    pattern. Made here, in a temporary folder; no photo enters the repository."""
    ffmpeg = shutil.which("ffmpeg")
    if not ffmpeg:
        pytest.skip("ffmpeg is not installed")
    out = tmp_path_factory.mktemp("camera") / "face.y4m"
    if FACE.exists():
        source = ["-loop", "1", "-i", str(FACE)]
    else:
        source = ["-f", "lavfi", "-i", "testsrc=size=640x480:rate=5"]
    # The photo keeps its proportions (a squeezed face is no longer found), padded to 640x480.
    fit = "scale=640:480:force_original_aspect_ratio=decrease,pad=640:480:(ow-iw)/2:(oh-ih)/2"
    subprocess.run(
        [ffmpeg, "-v", "error", "-y", *source, "-vf", f"{fit},format=yuv420p", "-r", "5"]
        + ["-frames:v", "5", "-f", "yuv4mpegpipe", str(out)],
        check=True,
        timeout=30,
    )
    return out


@pytest.fixture(scope="module")
def kiosk_browser(camera_file):
    yield from camera_chromium(camera_file)


@pytest.fixture
def asgi_server(transactional_db, settings):
    settings.DEVICE_HEARTBEAT_SECONDS = 2  # the page beats every 2 s; a dead link shows in 6 s
    settings.FACE_WORKERS = 0  # faces analysed in the server's threads (no worker processes)
    gallery.forget()
    server = AsgiServer().start()
    yield server
    server.stop()
    gallery.forget()


@pytest.fixture
def tablets(kiosk_browser, asgi_server):
    contexts = []

    def open_page(size: str = "tablet", storage: dict | None = None):
        context = kiosk_browser.new_context(
            base_url=asgi_server.url,
            viewport=PHONE if size == "phone" else TABLET,
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
            is_mobile=size == "phone",
            has_touch=size == "phone",
            device_scale_factor=1,
            permissions=["camera"],
        )
        context.set_default_timeout(10_000)
        if storage:
            context.add_init_script(
                f"Object.entries({_js(storage)}).forEach(([k, v]) => localStorage.setItem(k, v));"
            )
        contexts.append(context)
        page = context.new_page()
        page.size_name = size
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.errors = errors
        return page

    yield open_page
    for context in contexts:
        context.close()


def _js(value) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def _shot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"kiosk-{name}-{page.size_name}.png"
    page.screenshot(path=str(path))
    return path


def _in_thread(fn, *args, **kwargs):
    """Server-side calls that reach the channel layer (async_to_sync) run off this thread, where
    Playwright's event loop lives."""

    def call():
        try:
            return fn(*args, **kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(call).result(timeout=20)


def _device(device) -> Device:
    with brand_scope(device.brand_id):
        return Device.objects.for_brand(device.brand_id).get(pk=device.pk)


def _events(device, type_: str) -> list[DeviceEvent]:
    with brand_scope(device.brand_id):
        return list(
            DeviceEvent.objects.for_brand(device.brand_id)
            .filter(device=device, type=type_)
            .order_by("received_at", "id")
        )


def _punches(device) -> list[Punch]:
    with brand_scope(device.brand_id):
        return list(Punch.objects.for_brand(device.brand_id).filter(device=device).order_by("occurred_at"))


def _status(command) -> str:
    with brand_scope(command.brand_id):
        return DeviceCommand.objects.for_brand(command.brand_id).get(pk=command.pk).status


def _fits(page) -> bool:
    """Nothing scrolls and nothing sticks out of the window."""
    return no_horizontal_overflow(page) and page.evaluate(
        "document.documentElement.scrollHeight <= window.innerHeight + 1"
    )


def _dismiss_banner(page) -> None:
    if page.is_visible("#banner"):
        page.click("#banner")


def _punch_by_pin(page, employee_no: str, pin: str) -> None:
    _dismiss_banner(page)
    page.click("#k-pin")
    page.fill("#pin-employee", employee_no)
    page.click("#pin-code")
    for digit in pin:
        page.click(f"#pin-panel .key[data-key='{digit}']")
    page.click("#pin-submit")


def test_kiosk_pairs_clocks_in_and_obeys_the_console(tablets, brand, brand_admin, store):
    fang = StaffFactory(brand=brand, role=Staff.Role.STAFF, stores=[store], name="王芳", employee_no="E01")
    set_pin(brand, fang, "1234")
    if FACE.exists():
        enroll(brand, brand_admin, fang, FACE.name)  # the face the fake camera shows
    device, code = make_device(brand, brand_admin, store, name="前台考勤机", pair=False)

    # Pairing from the console's QR: the code leaves the address bar, the page comes online.
    page = tablets("tablet")
    page.goto(f"/kiosk/?code={code.lower()}")
    page.wait_for_selector("#k-status[data-state=online]")
    assert "code" not in page.url
    assert page.inner_text("#k-store") == store.name and page.inner_text("#k-device") == "前台考勤机"
    assert "请看镜头打卡" in page.inner_text("body")
    wait_until(lambda: _device(device).status == Device.Status.ONLINE, 5, "device online")
    credential = page.evaluate("JSON.parse(localStorage.getItem('kiosk.credential'))")
    assert credential["device"] == str(device.uid) and credential["secret"]

    # Face: a frame of the camera, sent as identify; the server names the person, records the
    # punch and opens the door (a door and clock-in device); it keeps the frame's size, never the image.
    page.wait_for_function("document.getElementById('k-video').videoWidth > 0")
    page.wait_for_function("document.getElementById('k-staff').options.length === 1")
    assert _fits(page)
    _shot(page, "home")
    page.click("#k-face")
    if FACE.exists():
        page.wait_for_selector("#banner[data-kind=door]:not([hidden]) >> text=王芳", timeout=30_000)
        lines = page.inner_text("#banner-text").split("\n")
        assert lines[:2] == ["王芳", "门已开，欢迎"] and re.fullmatch(r"\d\d:\d\d", lines[2])
        assert page.evaluate("document.body.dataset.result") == "granted"
        _shot(page, "face")
        (face_punch,) = wait_until(lambda: _punches(device), 5, "face punch")
        assert face_punch.staff_id == fang.pk and face_punch.source == "kiosk_face"
    else:
        page.wait_for_selector("#banner[data-kind=error]:not([hidden])", timeout=30_000)
    (identify,) = wait_until(lambda: _events(device, "identify"), 5, "identify stored")
    assert identify.payload["format"] == "jpeg" and identify.payload["purpose"] == "punch"
    assert 1000 < identify.payload["bytes"] < 1024 * 1024 and "image" not in identify.payload
    face_door = []
    if FACE.exists():  # the page answered open_door and reported the door opened
        face_door = wait_until(lambda: _events(device, "door_opened"), 5, "door opened for the face")

    # PIN: the keypad types the PIN; the punch names the person, the PIN is not kept.
    _dismiss_banner(page)
    page.click("#k-pin")
    page.fill("#pin-employee", "E01")
    page.click("#pin-code")
    for digit in "1234":
        page.click(f"#pin-panel .key[data-key='{digit}']")
    assert _fits(page)
    _shot(page, "pin")
    page.click("#pin-submit")
    page.wait_for_selector("#banner[data-kind=ok]:not([hidden]) >> text=打卡成功")
    assert page.inner_text("#banner-text").startswith("王芳\n打卡成功\n")
    (punch,) = wait_until(lambda: _events(device, "punch"), 5, "punch stored")
    assert punch.payload["method"] == "pin" and punch.payload["employee_no"] == "E01"
    assert punch.payload["pin_given"] is True and "pin" not in punch.payload
    assert punch.payload["reason"] == "no face" and not punch.offline
    assert punch.payload["result"] == "ok" and punch.payload["staff_verified"] == fang.pk

    # The console opens the door: banner, the command done, a door_opened event naming it.
    command = _in_thread(
        services.command_send,
        brand=brand,
        device=_device(device),
        name=DeviceCommand.Name.OPEN_DOOR,
        payload={"seconds": 3, "reason": "送货"},
    )
    page.wait_for_selector("#banner[data-kind=door]:not([hidden]) >> text=门已打开")
    _shot(page, "door")

    wait_until(lambda: _status(command) == DeviceCommand.Status.DONE, 5, "open_door done")
    opened = wait_until(lambda: _events(device, "door_opened")[len(face_door) :], 5, "door_opened stored")
    assert [o.payload for o in opened] == [{"method": "remote", "command": str(command.uid)}]

    # A message the page does not know is ignored; settings and messages from the console apply.
    live = _device(device)
    _in_thread(
        device_channels.send,
        live.connection,
        {"type": "device.command", "name": "teleport", "id": "x-1", "payload": {"to": "月球"}},
    )

    def send(name, payload):
        sent = _in_thread(
            services.command_send, brand=brand, device=_device(device), name=name, payload=payload
        )
        wait_until(lambda: _status(sent) == DeviceCommand.Status.DONE, 5, f"{name} done")

    send("reload_config", {"config": {**live.config, "language": "en"}, "config_version": 2})
    page.wait_for_selector("#k-face >> text=Clock in by face")
    assert (
        page.inner_text("#k-status-text") == "Online"
        and page.evaluate("document.documentElement.lang") == "en"
    )
    send("show_message", {"text": "今天 18:00 盘点", "seconds": 5})
    page.wait_for_selector("#banner[data-kind=message]:not([hidden]) >> text=今天 18:00 盘点")
    send("ring", {"seconds": 1})
    send("sync", {"staff_version": "x"})
    send("reload_config", {"config": {**live.config, "language": "zh-hans"}, "config_version": 3})
    page.wait_for_selector("#k-face >> text=刷脸打卡")

    # Offline: the punch is kept on the tablet, then sent once when the network is back.
    page.context.set_offline(True)
    page.wait_for_selector("#k-status[data-state=offline]")
    _punch_by_pin(page, "E01", "1234")
    page.wait_for_selector("#banner[data-kind=queued]:not([hidden])")
    page.wait_for_selector("#k-pending:not([hidden]) >> text=待上传：1")
    assert len(_events(device, "punch")) == 1
    page.context.set_offline(False)
    page.wait_for_selector("#k-status[data-state=online]")
    page.wait_for_selector("#k-pending", state="hidden")
    punches = wait_until(lambda: len(_events(device, "punch")) == 2 and _events(device, "punch"), 5, "replay")
    assert punches[1].offline and punches[1].payload["employee_no"] == "E01"
    assert punches[1].payload["result"] == "ok"  # the PIN checked on arrival
    assert [p.offline for p in _punches(device) if p.source == "kiosk_pin"] == [False, True]
    assert page.evaluate(f"localStorage.getItem('kiosk.queue:{device.uid}')") == "[]"

    # The same credential opened on a phone: it takes over, the tablet says so and stops.
    storage = page.evaluate("({'kiosk.credential': localStorage.getItem('kiosk.credential')})")
    phone = tablets("phone", storage=storage)
    phone.goto("/kiosk/")
    phone.wait_for_selector("#k-status[data-state=online]")
    page.wait_for_selector("#notice-screen >> text=此设备已在别处连接")
    _shot(page, "replaced")
    phone.wait_for_function("document.getElementById('k-video').videoWidth > 0")
    assert _fits(phone)
    _shot(phone, "home")
    _punch_by_pin(phone, "E01", "2468")
    phone.wait_for_selector("#banner[data-kind=error]:not([hidden]) >> text=打卡密码错误")
    assert phone.inner_text("#banner-text") == "打卡密码错误。"
    _shot(phone, "wrong-pin")
    _punch_by_pin(phone, "E01", "1234")
    phone.wait_for_selector("#banner[data-kind=ok]:not([hidden]) >> text=打卡成功")
    assert phone.inner_text("#banner-text").startswith("王芳\n打卡成功")
    _shot(phone, "punched")
    assert len(_events(device, "punch")) == 4
    expect(page.locator("#notice-screen")).to_be_visible()  # no reconnect fight

    # Disabled in the console: the phone forgets its credential and asks to be paired again.
    _in_thread(
        services.device_disable,
        brand=brand,
        manager=brand_admin,
        actor=Actor.system(),
        device=_device(device),
    )
    phone.wait_for_selector("#pair-screen >> text=此设备需要重新配对")
    assert phone.evaluate("localStorage.getItem('kiosk.credential')") is None
    assert _fits(phone)
    _shot(phone, "repair")
    assert not page.errors and not phone.errors


def test_wrong_code_and_fresh_pairing_screen(tablets):
    page = tablets("phone")
    page.goto("/kiosk/")
    page.wait_for_selector("#pair-screen >> text=配对此设备")
    page.fill("#pair-code", "ABCD-EFGH")
    page.click("#pair-submit")
    page.wait_for_selector("#pair-error >> text=配对码错误")
    assert _fits(page)
    _shot(page, "pair")
    assert page.evaluate("localStorage.getItem('kiosk.credential')") is None
    assert not page.errors
