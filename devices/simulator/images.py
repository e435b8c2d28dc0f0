"""Camera frames for ``identify``: an image file as the protocol wants it (JPEG or PNG, base64,
the whole frame at most 1 MiB). Big images (and other formats) are scaled down to 640 px and sent
as JPEG. Without Pillow, a small .jpg/.jpeg/.png file goes as it is."""

from __future__ import annotations

import base64
import io
from pathlib import Path

from devices.simulator.device import EXIT_USAGE, SimError

MAX_SIDE = 640
# The frame is at most 1 MiB; leave room for the envelope around the base64 text.
MAX_BASE64 = 1024 * 1024 - 2048
FORMATS = {".jpg": "jpeg", ".jpeg": "jpeg", ".png": "png"}


def _b64_len(n: int) -> int:
    return 4 * ((n + 2) // 3)


def prepare(path: str | Path) -> tuple[str, str, dict]:
    """(base64 text, "jpeg"|"png", facts) for the image file; SimError if it cannot be sent."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SimError(f"cannot read {path}: {exc.strerror}", EXIT_USAGE) from None
    fmt = FORMATS.get(path.suffix.lower())
    facts = {"file": str(path), "file_bytes": len(data)}
    small = fmt is not None and _b64_len(len(data)) <= MAX_BASE64
    if small:
        try:
            from PIL import Image

            with Image.open(io.BytesIO(data)) as img:
                small = max(img.size) <= MAX_SIDE
                facts["size"] = list(img.size)
                # What the file is, not what its name says (the server checks the bytes).
                fmt = {"JPEG": "jpeg", "PNG": "png"}.get(img.format or "")
                small = small and fmt is not None
        except ImportError:
            pass  # without Pillow, a small JPEG or PNG goes as it is
        except Exception as exc:
            raise SimError(f"{path} is not an image Pillow can read: {exc}", EXIT_USAGE) from None
    if not small:
        data, fmt = _downscale(path, data, facts)
    facts.update(format=fmt, sent_bytes=len(data))
    return base64.b64encode(data).decode("ascii"), fmt, facts


def _downscale(path: Path, data: bytes, facts: dict) -> tuple[bytes, str]:
    try:
        from PIL import Image
    except ImportError:
        raise SimError("Pillow is needed to scale down or convert this image", EXIT_USAGE) from None
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.thumbnail((MAX_SIDE, MAX_SIDE))
            img = img.convert("RGB")
            facts["size"] = list(img.size)
            for quality in (85, 70, 50, 30):
                out = io.BytesIO()
                img.save(out, "JPEG", quality=quality)
                if _b64_len(out.tell()) <= MAX_BASE64:
                    facts["jpeg_quality"] = quality
                    return out.getvalue(), "jpeg"
    except SimError:
        raise
    except Exception as exc:
        raise SimError(f"{path} is not an image Pillow can read: {exc}", EXIT_USAGE) from None
    raise SimError(f"{path} does not fit in 1 MiB even as a small JPEG", EXIT_USAGE)
