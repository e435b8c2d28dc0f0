"""Phone attendance in headless Chromium at 390x844 against the real ASGI application, with a fake
front camera and Playwright's geolocation at the store.

A guide opens 考勤 from the staff home, gives the separate consent, enrolls their face (the fake
camera plays the face turning left and right: the head-turn challenge), then punches: the first
punch is from a new phone, so the face is checked 1:1 with the same head turn; the second, from
the now known phone, on shift, inside the store, goes by PIN. 我的考勤 shows the punches, and the
person is notified. The camera clip is made here from ../shared/faces/obama.jpg in a temporary
folder (the photo never enters the repository). Screenshots: artifacts/screenshots/attendance-*-phone.png."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image, ImageFilter
from playwright.sync_api import expect

from attendance import gallery, phone, services
from attendance.models import FaceEncoding, Punch
from attendance.views import mobile
from guides.models import Notification
from retail.events import Actor
from retail.tenancy import brand_scope
from tests.attendance.test_mobile_punch import on_shift_now
from tests.e2e.asgi_server import AsgiServer
from tests.e2e.conftest import camera_chromium
from tests.factories import PASSWORD
from tests.helpers.browser import PHONE, assert_chinese, no_horizontal_overflow, shot
from tests.helpers.faces import FACES

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators"),
    pytest.mark.skipif(not FACES.is_dir(), reason="the face photos (../shared/faces) are not here"),
]

STORE_AT = {"latitude": 31.2293, "longitude": 121.4489, "accuracy": 15}  # StoreFactory's store, ~15 m off
PIN = "4826"


def _frame(k: float, soften: bool) -> Image.Image:
    """obama.jpg sheared sideways by ``k`` (the head seems to turn), on a 640x480 frame. The turned
    frames are a little softer, so the straight one is the sharpest and is the one enrolled."""
    img = Image.open(FACES / "obama.jpg").convert("RGB")
    img.thumbnail((640, 640))
    w, h = img.size
    img = img.transform((w, h), Image.Transform.AFFINE, (1, k, -k * h / 2, 0, 1, 0), Image.Resampling.BICUBIC)
    if soften:
        img = img.filter(ImageFilter.GaussianBlur(0.7))
    img = img.resize((round(w * 480 / h), 480))
    canvas = Image.new("RGB", (640, 480), (232, 234, 238))
    canvas.paste(img, ((640 - img.width) // 2, 0))
    return canvas


@pytest.fixture(scope="module")
def camera_file(tmp_path_factory) -> Path:
    """A Y4M clip at 2 frames a second: straight, turned left, straight, turned right, looped by
    Chromium. Six frames 0.4 s apart always see both turns."""
    ffmpeg = shutil.which("ffmpeg")
    if not ffmpeg:
        pytest.skip("ffmpeg is not installed")
    folder = tmp_path_factory.mktemp("camera")
    for i, k in enumerate((0.0, -0.35, 0.0, 0.4)):
        buf = io.BytesIO()
        _frame(k, soften=k != 0.0).save(buf, "PNG")
        (folder / f"f{i}.png").write_bytes(buf.getvalue())
    out = folder / "turn.y4m"
    subprocess.run(
        [ffmpeg, "-v", "error", "-y", "-framerate", "2", "-i", str(folder / "f%d.png")]
        + ["-vf", "format=yuv420p", "-f", "yuv4mpegpipe", str(out)],
        check=True,
        timeout=30,
    )
    return out


@pytest.fixture(scope="module")
def camera_browser(camera_file):
    yield from camera_chromium(camera_file)


@pytest.fixture
def asgi_server(transactional_db):
    server = AsgiServer().start()
    yield server
    server.stop()


def _context(browser, server, permissions, geolocation=None):
    context = browser.new_context(
        base_url=server.url,
        viewport=PHONE,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        is_mobile=True,
        has_touch=True,
        device_scale_factor=1,
        permissions=permissions,
        geolocation=geolocation,
    )
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.size_name = "phone"
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    return context, page


@pytest.fixture
def phone_page(camera_browser, asgi_server):
    context, page = _context(camera_browser, asgi_server, ["camera", "geolocation"], STORE_AT)
    yield page
    context.close()


@pytest.fixture
def phone_page_without_location(camera_browser, asgi_server):
    context, page = _context(camera_browser, asgi_server, ["camera"])
    yield page
    context.close()


@pytest.fixture(autouse=True)
def _fresh_gallery():
    gallery.forget()
    yield
    gallery.forget()


def _login(page, staff):
    page.goto("/login/")
    page.fill("input[name=username]", staff.user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.form button[type=submit]")
    page.wait_for_url("**/m/**")


def _punches(brand, staff):
    with brand_scope(brand):
        return list(Punch.objects.for_brand(brand).filter(staff=staff).order_by("id"))


def test_a_guide_enrolls_their_face_and_punches_by_face_then_by_pin(
    phone_page, brand, brand_admin, store, store_manager, guide, monkeypatch
):
    page = phone_page
    monkeypatch.setattr(mobile, "choose_challenge", lambda: "turn")  # the clip turns; it cannot blink
    services.consent_text_publish(
        brand=brand,
        manager=brand_admin,
        actor=Actor.system(),
        title="人脸信息处理单独同意书",
        body="为了确认是你本人打卡，我们会处理你的人脸信息。\n我们只保存由人脸计算出的加密特征值，不保存照片。\n你可以随时撤回同意，撤回后特征值立即删除。",
    )
    phone.pin_set(brand=brand, staff=guide, actor=Actor.system(), pin=PIN)
    on_shift_now(brand, store_manager, store, guide)

    _login(page, guide)
    page.goto("/m/")
    shot(page, "attendance-staff-home")
    page.click("[data-testid=attendance-link]")
    page.wait_for_selector("[data-testid=att-today]")
    assert no_horizontal_overflow(page)
    assert_chinese(page)
    shot(page, "attendance-home")

    # Consent, then enrollment with the head turn.
    page.click("[data-testid=att-face-link]")
    page.click("[data-testid=consent-link]")
    assert "人脸信息处理单独同意书" in page.inner_text("[data-testid=consent-title]")
    page.check("[data-testid=consent-agree]")
    shot(page, "attendance-consent")
    page.click("[data-testid=consent-submit]")
    page.wait_for_selector("[data-testid=enroll-instruction][data-challenge=turn]")
    page.wait_for_selector("[data-testid=enroll-start]:not([disabled])")
    page.wait_for_function("document.getElementById('at-video').videoWidth > 0")
    shot(page, "attendance-enroll")
    page.click("[data-testid=enroll-start]")
    page.wait_for_selector("[data-testid=enrolled-count]", timeout=60_000)
    assert "1" in page.inner_text("[data-testid=enrolled-count]")
    with brand_scope(brand):
        assert FaceEncoding.objects.for_brand(brand).filter(staff=guide).count() == 1
    shot(page, "attendance-enrolled")

    # First punch: a phone never seen for this person, so the face is checked.
    page.goto("/m/attendance/punch/")
    page.wait_for_selector("[data-testid=punch-face]:not([hidden])")
    assert "首次使用的手机" in page.inner_text("[data-testid=punch-risk]")
    page.wait_for_selector("[data-testid=punch-instruction][data-challenge=turn]")
    assert "在门店范围内" in page.inner_text("[data-testid=punch-where]")
    page.wait_for_function("document.getElementById('at-video').videoWidth > 0")
    shot(page, "attendance-punch-face")
    page.click("[data-testid=punch-face-submit]")
    page.wait_for_selector("[data-testid=punch-done]:not([hidden])", timeout=30_000)
    assert "打卡成功" in page.inner_text("[data-testid=punch-done]")
    assert_chinese(page)
    shot(page, "attendance-punch-done")
    (first,) = _punches(brand, guide)
    assert first.source == "phone_face" and first.face_checked and first.risk == ["new_device"]
    assert first.distance_m is not None and first.distance_m < 50

    # Second punch: the same phone, inside the store, on shift: no risk, the PIN is enough.
    page.goto("/m/attendance/punch/")
    page.wait_for_selector("[data-testid=punch-pin-form]:not([hidden])")
    assert page.is_hidden("[data-testid=punch-risk]") and page.is_hidden("#at-reason-field")
    page.fill("[data-testid=punch-pin]", PIN)
    shot(page, "attendance-punch-pin")
    page.click("[data-testid=punch-pin-submit]")
    page.wait_for_selector("[data-testid=punch-done]:not([hidden])")
    second = _punches(brand, guide)[-1]
    assert second.source == "phone_pin" and second.risk == [] and second.reason == ""

    # 我的考勤 lists both; the person was notified of each.
    page.goto("/m/attendance/records/")
    page.wait_for_selector("[data-testid=day-records]")
    for p in (first, second):
        expect(page.locator(f"[data-testid=punch-{p.pk}]")).to_be_visible()
    assert no_horizontal_overflow(page)
    shot(page, "attendance-records")
    with brand_scope(brand):
        assert Notification.objects.for_brand(brand).filter(staff=guide, kind="punch").count() == 2
    page.goto("/m/notifications/")
    assert "打卡成功" in page.inner_text("[data-testid=notifications]")
    shot(page, "attendance-notifications")
    assert page.errors == []


def test_without_location_or_face_the_pin_way_is_closed_and_says_why(
    phone_page_without_location, brand, store, store_manager, guide
):
    page = phone_page_without_location
    phone.pin_set(brand=brand, staff=guide, actor=Actor.system(), pin=PIN)
    on_shift_now(brand, store_manager, store, guide)
    _login(page, guide)
    page.goto("/m/attendance/punch/")
    page.wait_for_selector("[data-testid=punch-blocked]:not([hidden])")
    assert "无法获取你的位置" in page.inner_text("[data-testid=punch-where]")
    assert "密码打卡只能在门店范围内使用" in page.inner_text("[data-testid=punch-blocked]")
    assert "没有位置信息" in page.inner_text("[data-testid=punch-risk]")
    assert page.is_hidden("[data-testid=punch-pin-form]") and page.is_hidden("[data-testid=punch-face]")
    assert_chinese(page)
    shot(page, "attendance-punch-no-location")
    assert _punches(brand, guide) == [] and page.errors == []
