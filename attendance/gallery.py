"""The decrypted face encodings of a brand, held in this process's memory for matching.

Encodings are decrypted once per brand and gallery version (AttendancePolicy.gallery_version,
raised by every enrollment and deletion), then matched with numpy: 1:N among a store's staff and
the brand-wide uniqueness check both read the same matrix. Every load is a read of biometric data
and is audited (``face.read``, with its purpose and the number of encodings)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from attendance import crypto
from attendance.models import AttendancePolicy, FaceEncoding
from retail.events import Actor, record
from retail.models import Brand, Staff, StaffStore
from retail.tenancy import within_brand


@dataclass(frozen=True)
class Gallery:
    version: int
    matrix: np.ndarray  # N × 128
    owners: np.ndarray  # N staff ids
    stores: dict[int, frozenset[int]]  # staff id → the stores they work in

    def for_store(self, store_id: int) -> tuple[np.ndarray, np.ndarray]:
        keep = np.array([store_id in self.stores.get(int(o), ()) for o in self.owners], dtype=bool)
        return self.matrix[keep], self.owners[keep]

    def excluding(self, staff_id: int) -> tuple[np.ndarray, np.ndarray]:
        keep = self.owners != staff_id
        return self.matrix[keep], self.owners[keep]


_cache: dict[int, Gallery] = {}
_lock = threading.Lock()


def version(brand_id: int) -> int:
    with within_brand(brand_id):
        return (
            AttendancePolicy.objects.for_brand(brand_id).values_list("gallery_version", flat=True).first()
            or 0
        )


def load(brand: Brand, *, purpose: str, actor: Actor | None = None) -> Gallery:
    """The brand's gallery of ACTIVE staff, from memory when its version is current."""
    brand_id = brand.pk
    current = version(brand_id)
    cached = _cache.get(brand_id)
    if cached is not None and cached.version == current:
        return cached
    with within_brand(brand_id):
        rows = list(
            FaceEncoding.objects.for_brand(brand_id)
            .filter(staff__status=Staff.Status.ACTIVE)
            .values_list("staff_id", "ciphertext", "key_id")
        )
        links: dict[int, set[int]] = {}
        staff_ids = {r[0] for r in rows}
        if staff_ids:
            for staff_id, store_id in (
                StaffStore.objects.for_brand(brand_id)
                .filter(staff_id__in=staff_ids)
                .values_list("staff_id", "store_id")
            ):
                links.setdefault(staff_id, set()).add(store_id)
        record(
            brand=brand,
            actor=actor,
            action="face.read",
            data={"purpose": purpose, "encodings": len(rows)},
        )
    matrix = np.array([crypto.decrypt(c, k) for _s, c, k in rows]).reshape(-1, crypto.DIMENSIONS)
    gallery = Gallery(
        version=current,
        matrix=matrix,
        owners=np.array([r[0] for r in rows], dtype=np.int64),
        stores={s: frozenset(v) for s, v in links.items()},
    )
    with _lock:
        _cache[brand_id] = gallery
    return gallery


def forget(brand_id: int | None = None) -> None:
    """Drop the cached gallery (tests; this process after a key rotation)."""
    with _lock:
        if brand_id is None:
            _cache.clear()
        else:
            _cache.pop(brand_id, None)
