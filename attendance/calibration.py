"""The brand's own face distances, for choosing its matching threshold (the console's calibration page).

Two kinds of pairs of enrolled encodings (active staff only): the same person's (up to three
encodings each, so up to three pairs a person) and two different people's. A good threshold lies
above nearly every same-person distance and below nearly every different-person distance; the
page draws both as a histogram with the threshold line and counts the pairs a threshold would
confuse: a person not recognised (same person, farther than the threshold) and two people taken
for each other (different people, within it).

Reading the encodings is a read of biometric data: audited as ``face.read`` with the purpose
``calibration`` on every computation. Only distances and counts leave this module."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from attendance import crypto, faces
from attendance.models import FaceEncoding
from retail.events import Actor, record
from retail.models import Brand, Staff
from retail.tenancy import brand_scope

BIN_WIDTH = 0.025
MAX_DISTANCE = 1.2  # distances beyond fall in the last bin
BINS = int(round(MAX_DISTANCE / BIN_WIDTH))
# Different-person pairs grow with the square of the gallery: above this many encodings a
# fixed random sample of them (the same one every time) stands for the brand.
MAX_SAMPLED = 3000
CLOSEST_SHOWN = 10


@dataclass
class Distribution:
    encodings: int = 0
    people: int = 0
    sampled: bool = False
    same: np.ndarray = field(default_factory=lambda: np.zeros(BINS, dtype=np.int64))
    different: np.ndarray = field(default_factory=lambda: np.zeros(BINS, dtype=np.int64))
    same_pairs: int = 0
    different_pairs: int = 0
    same_max: float | None = None
    different_min: float | None = None
    # (distance, staff id, staff id) of the closest different-person pairs, nearest first
    closest: list[tuple[float, int, int]] = field(default_factory=list)
    same_distances: np.ndarray = field(default_factory=lambda: np.empty(0))
    different_within: np.ndarray = field(default_factory=lambda: np.empty(0))

    def confused(self, threshold: float) -> dict[str, int]:
        """Pairs the threshold gets wrong: ``missed`` same-person pairs farther than it, ``mixed``
        different-person pairs within it."""
        missed = int((self.same_distances > threshold).sum())
        mixed = int((self.different_within <= threshold).sum())
        return {"missed": missed, "mixed": mixed}


def _bins(d: np.ndarray) -> np.ndarray:
    idx = np.minimum((d / BIN_WIDTH).astype(np.int64), BINS - 1)
    return np.bincount(idx, minlength=BINS)


# Different-person distances kept one by one (for counting any threshold up to this and for the
# closest pairs): only the close ones, so memory stays small on a large brand.
KEEP_BELOW = 0.7


def compute(matrix: np.ndarray, owners: np.ndarray, *, max_sampled: int = MAX_SAMPLED) -> Distribution:
    """The distribution of pair distances of a gallery (N×128, owners N). Pure: no database."""
    out = Distribution(encodings=int(len(owners)), people=int(len(set(owners.tolist()))))
    if len(owners) == 0:
        return out
    same: list[float] = []
    for owner in np.unique(owners):
        rows = matrix[owners == owner]
        for i in range(len(rows)):
            for j in range(i + 1, len(rows)):
                same.append(float(np.linalg.norm(rows[i] - rows[j])))
    out.same_distances = np.array(same)
    out.same_pairs = len(same)
    if same:
        out.same = _bins(out.same_distances)
        out.same_max = float(out.same_distances.max())
    if len(owners) > max_sampled:
        keep = np.sort(np.random.default_rng(0).choice(len(owners), size=max_sampled, replace=False))
        matrix, owners = matrix[keep], owners[keep]
        out.sampled = True
    matrix = np.ascontiguousarray(matrix)
    within: list[np.ndarray] = []
    close: list[tuple[float, int, int]] = []
    for i in range(len(owners) - 1):
        rest, rest_owners = matrix[i + 1 :], owners[i + 1 :]
        other = rest_owners != owners[i]
        if not other.any():
            continue
        d = faces.distances(rest[other], matrix[i])
        out.different += _bins(d)
        out.different_pairs += int(d.size)
        low = d < KEEP_BELOW
        if low.any():
            within.append(d[low])
            for k in np.flatnonzero(low):
                close.append((float(d[k]), int(owners[i]), int(rest_owners[other][k])))
        m = float(d.min())
        out.different_min = m if out.different_min is None else min(out.different_min, m)
    out.different_within = np.concatenate(within) if within else np.empty(0)
    # One row per pair of people: their closest encodings.
    best: dict[tuple[int, int], float] = {}
    for dist, a, b in close:
        key = (min(a, b), max(a, b))
        if key not in best or dist < best[key]:
            best[key] = dist
    out.closest = sorted(((d, a, b) for (a, b), d in best.items()), key=lambda r: (r[0], r[1], r[2]))[
        :CLOSEST_SHOWN
    ]
    return out


def brand_distribution(*, brand: Brand, actor: Actor | None) -> Distribution:
    """The brand's distribution from its enrolled, active staff; audited (``face.read``,
    purpose ``calibration``)."""
    with brand_scope(brand):
        rows = list(
            FaceEncoding.objects.for_brand(brand)
            .filter(staff__status=Staff.Status.ACTIVE)
            .order_by("staff_id", "id")
            .values_list("staff_id", "ciphertext", "key_id")
        )
        record(
            brand=brand,
            actor=actor,
            action="face.read",
            data={"purpose": "calibration", "encodings": len(rows)},
        )
    matrix = np.array([crypto.decrypt(c, k) for _s, c, k in rows]).reshape(-1, crypto.DIMENSIONS)
    owners = np.array([r[0] for r in rows], dtype=np.int64)
    return compute(matrix, owners)
