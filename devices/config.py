"""A device's settings: door open time, volume, language and the door's time windows."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from devices.models import DEFAULT_CONFIG

LANGUAGES = ("zh-hans", "en")
MAX_WINDOWS = 14
_TIME_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def defaults() -> dict:
    return {**DEFAULT_CONFIG, "door_windows": []}


def _int(value: Any, low: int, high: int, field: str, message: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError({field: message}, code="invalid")
    return value


def clean_windows(windows: Any) -> list[dict]:
    """Door windows: [{"days": [1..7 (Monday=1)], "start": "HH:MM", "end": "HH:MM"}], start before end."""
    message = _("Door hours are a list of days with a start and end time (HH:MM), start before end.")
    if not isinstance(windows, list) or len(windows) > MAX_WINDOWS:
        raise ValidationError({"door_windows": message}, code="invalid")
    out = []
    for w in windows:
        if not isinstance(w, dict) or set(w) - {"days", "start", "end"}:
            raise ValidationError({"door_windows": message}, code="invalid")
        days, start, end = w.get("days"), w.get("start"), w.get("end")
        if (
            not isinstance(days, list)
            or not days
            or any(isinstance(d, bool) or not isinstance(d, int) or not 1 <= d <= 7 for d in days)
            or not isinstance(start, str)
            or not isinstance(end, str)
            or not _TIME_RE.match(start)
            or not _TIME_RE.match(end)
            or start >= end
        ):
            raise ValidationError({"door_windows": message}, code="invalid")
        out.append({"days": sorted(set(days)), "start": start, "end": end})
    return out


def clean(config: Any) -> dict:
    """The settings checked and normalised; ValidationError naming the bad field otherwise."""
    if not isinstance(config, dict):
        raise ValidationError(_("Settings must be an object."), code="invalid")
    unknown = set(config) - set(DEFAULT_CONFIG)
    if unknown:
        raise ValidationError({sorted(unknown)[0]: _("Unknown setting.")}, code="invalid")
    language = config.get("language", DEFAULT_CONFIG["language"])
    if language not in LANGUAGES:
        raise ValidationError({"language": _("Choose Chinese or English.")}, code="invalid")
    return {
        "door_open_seconds": _int(
            config.get("door_open_seconds", DEFAULT_CONFIG["door_open_seconds"]),
            1,
            30,
            "door_open_seconds",
            _("The door opens for 1 to 30 seconds."),
        ),
        "volume": _int(
            config.get("volume", DEFAULT_CONFIG["volume"]), 0, 100, "volume", _("Volume is 0 to 100.")
        ),
        "language": language,
        "door_windows": clean_windows(config.get("door_windows", [])),
    }
