"""Product photos through Pillow: verified, size-checked, orientation applied, re-encoded without
metadata (EXIF, GPS, ICC comments) in a large and a thumbnail size."""

from __future__ import annotations

import io
import warnings

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000  # refuse decompression bombs before decoding
MIN_SIDE = 64
LARGE_SIDE = 1200
THUMB_SIDE = 400
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF", "MPO"}


def _refuse(message: str) -> ValidationError:
    return ValidationError({"image": ValidationError(message, code="invalid_image")})


def _encode(img: Image.Image, side: int) -> bytes:
    copy = img.copy()
    copy.thumbnail((side, side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    # A fresh JPEG with no exif/icc/comment: nothing of the original file's metadata survives.
    copy.save(out, "JPEG", quality=85, optimize=True, progressive=True)
    return out.getvalue()


def process_upload(upload) -> tuple[ContentFile, ContentFile]:
    """(large, thumbnail) JPEG files from an uploaded file, or a ValidationError saying why not."""
    size = getattr(upload, "size", None)
    if size is None or size > MAX_UPLOAD_BYTES:
        raise _refuse(_("The image is larger than 10 MB."))
    upload.seek(0)
    data = upload.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise _refuse(_("The image is larger than 10 MB."))
    try:
        with warnings.catch_warnings():
            # Pillow warns before it refuses; a warning here is a refusal too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(data))
        with probe:
            if probe.format not in ACCEPTED_FORMATS:
                raise _refuse(_("Upload a JPEG, PNG, WebP or GIF image."))
            if probe.width * probe.height > MAX_PIXELS:
                raise _refuse(_("The image has too many pixels."))
            probe.verify()
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            img = ImageOps.exif_transpose(img)
            if min(img.size) < MIN_SIDE:
                raise _refuse(_("The image is too small (at least 64 pixels each side)."))
            if img.mode not in ("RGB", "L"):
                background = Image.new("RGB", img.size, (255, 255, 255))
                rgba = img.convert("RGBA")
                background.paste(rgba, mask=rgba.getchannel("A"))
                img = background
            else:
                img = img.convert("RGB")
            large, thumb = _encode(img, LARGE_SIDE), _encode(img, THUMB_SIDE)
    except ValidationError:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise _refuse(_("The image has too many pixels.")) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise _refuse(_("This file is not an image we can read.")) from exc
    return ContentFile(large, name="product.jpg"), ContentFile(thumb, name="product-thumb.jpg")
