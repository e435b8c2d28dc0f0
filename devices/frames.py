"""Camera frames from devices (identify): base64 JPEG or PNG, checked before anything reads them.

Runs on a worker thread (devices/consumers.py), never on the event loop. The frame itself is never
stored: what the server keeps of it is its size and format."""

from __future__ import annotations

import base64
import binascii
import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

MAX_PIXELS = 4096 * 4096
MIN_SIDE = 32
FORMATS = {"jpeg": "JPEG", "png": "PNG"}


class BadFrame(ValueError):
    """The identify image cannot be used; the message says why (for the device's error frame)."""


@dataclass(frozen=True)
class Frame:
    data: bytes
    format: str
    width: int
    height: int


def decode(image_b64: str, declared: str) -> Frame:
    """The frame's bytes, checked: valid base64, a real image of the declared format, sane size."""
    try:
        data = base64.b64decode(image_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadFrame("image is not valid base64") from exc
    if not data:
        raise BadFrame("image is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                if probe.format != FORMATS.get(declared):
                    raise BadFrame(f"image is not a {declared.upper()} image")
                width, height = probe.size
                if width * height > MAX_PIXELS:
                    raise BadFrame("image has too many pixels (at most 4096 x 4096)")
                if min(width, height) < MIN_SIDE:
                    raise BadFrame("image is too small (at least 32 pixels each side)")
                probe.verify()
    except BadFrame:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise BadFrame("image is not a JPEG or PNG image") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise BadFrame("image is damaged") from exc
    return Frame(data=data, format=declared, width=width, height=height)
