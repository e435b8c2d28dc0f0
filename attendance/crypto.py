"""Face encodings encrypted at rest (Fernet: AES-128-CBC + HMAC-SHA256) with rotatable keys.

settings.FACE_ENCRYPTION_KEYS lists "key_id:fernet_key" entries, newest first: new encodings are
written with the first; any listed key decrypts. Rotation (docs/attendance.md): add a new key at the
front, run ``manage.py face_keys_rotate`` (re-encrypts every encoding with the new key), then drop
the old key from the list."""

from __future__ import annotations

import numpy as np
from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

DIMENSIONS = 128


def _keys() -> list[tuple[str, Fernet]]:
    keys = []
    for entry in settings.FACE_ENCRYPTION_KEYS:
        key_id, sep, key = entry.partition(":")
        if not sep or not key_id or len(key_id) > 16:
            raise ImproperlyConfigured("FACE_ENCRYPTION_KEYS entries are 'key_id:fernet_key'")
        keys.append((key_id, Fernet(key.encode())))
    if not keys:
        raise ImproperlyConfigured("FACE_ENCRYPTION_KEYS is empty")
    return keys


def current_key_id() -> str:
    return _keys()[0][0]


def encrypt(encoding: np.ndarray) -> tuple[bytes, str]:
    """(ciphertext, key id) of a 128-d encoding."""
    vector = np.asarray(encoding, dtype="<f8")
    if vector.shape != (DIMENSIONS,) or not np.isfinite(vector).all():
        raise ValueError("a face encoding is 128 finite numbers")
    key_id, fernet = _keys()[0]
    return fernet.encrypt(vector.tobytes()), key_id


def decrypt(ciphertext: bytes, key_id: str) -> np.ndarray:
    """The encoding back; ValueError if no configured key opens it."""
    keys = dict(_keys())
    fernet = keys.get(key_id)
    if fernet is None:
        raise ValueError(f"no key {key_id!r} in FACE_ENCRYPTION_KEYS")
    try:
        raw = fernet.decrypt(bytes(ciphertext))
    except InvalidToken as exc:
        raise ValueError("the encoding does not open with its key") from exc
    return np.frombuffer(raw, dtype="<f8").copy()
