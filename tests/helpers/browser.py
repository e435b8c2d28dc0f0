"""Browser tests: page sizes, logging in, screenshots, layout checks, and waiting for the page (for
a condition, never for a fixed time)."""

from __future__ import annotations

import re
from pathlib import Path

# Every CSS animation and transition that ends has ended (endless ones, such as spinners, are left out).
_ANIMATIONS_DONE = """() => document.getAnimations().every(
    (a) => a.playState !== "running" || a.effect.getComputedTiming().endTime === Infinity
)"""


def wait_for_animations(page) -> None:
    """Wait until the page's CSS animations and transitions have played to the end."""
    page.wait_for_function(_ANIMATIONS_DONE)


def htmx_requests_in_flight(page) -> int:
    """How many elements htmx marks as waiting for an answer (it marks them when it sends)."""
    return page.evaluate("document.querySelectorAll('.htmx-request').length")


# English words that must not leak into the Chinese UI (msgids of navigation and buttons).
ENGLISH = re.compile(
    r"\b(Log in|Log out|Home|Members|Messages|Overview|Stores|Staff|Audit log|Invite|Save|Cancel|Search|"
    r"Guide|Brand admin|Store manager|Active|Invited|Left|Open|Closed)\b"
)


def assert_chinese(page):
    body = page.inner_text("body")
    leaked = ENGLISH.findall(body)
    assert not leaked, f"English in the Chinese UI of {page.url}: {leaked}"


PHONE = {"width": 390, "height": 844}


DESKTOP = {"width": 1440, "height": 900}


SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


def shot(page, name: str) -> Path:
    """Save a full-page screenshot as artifacts/screenshots/<name>-<size>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}-{page.size_name}.png"
    # A long page on a busy machine: give the full-page capture more than the default 10 s.
    page.screenshot(path=str(path), full_page=True, timeout=30_000)
    return path


def login(page, login_name: str, password: str):
    page.goto("/login/")
    page.fill("input[name=username]", login_name)
    page.fill("input[name=password]", password)
    page.click("form.form button[type=submit]")
    page.wait_for_load_state()


def no_horizontal_overflow(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
