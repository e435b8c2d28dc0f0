"""The face engine: detection, 128-d encodings, quality checks, liveness and matching.

Pure functions over image bytes and numpy arrays (no database, no Django models), so they run in
the worker processes of attendance/pool.py. face_recognition (dlib's HOG detector and ResNet
encoder) is imported lazily: a process that never sees a face never loads its models.

The photo itself never leaves this module: callers keep only the encodings."""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Frames are downscaled before detection: the HOG detector's time grows with the pixels.
MAX_SIDE = 640
MAX_PIXELS = 4096 * 4096
MIN_FACE_PX = 80  # the face box's shorter side in the downscaled frame
BLUR_MIN = 60.0  # variance of the Laplacian of the face crop (grey levels²)
DARK_MIN = 40.0  # mean grey level of the face crop
POSE_MAX_YAW = 0.35  # nose offset from the eyes' midpoint, in eye distances
POSE_MAX_ROLL_DEG = 15.0
EAR_CLOSED = 0.2  # eye aspect ratio below which an eye counts as closed


class FaceError(ValueError):
    """A frame the engine cannot use; ``code`` names why (see MESSAGES in attendance/labels.py)."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(detail or code)
        self.code = code


@dataclass(frozen=True)
class Face:
    box: tuple[int, int, int, int]  # top, right, bottom, left in the downscaled frame
    encoding: np.ndarray  # 128 float64
    landmarks: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    quality: dict = field(default_factory=dict)


def load(data: bytes) -> np.ndarray:
    """An RGB array of the image, upright (EXIF) and downscaled to MAX_SIDE; FaceError otherwise."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                if probe.width * probe.height > MAX_PIXELS:
                    raise FaceError("bad_image", "too many pixels")
                probe.verify()
            img = Image.open(io.BytesIO(data))
            img.load()
    except FaceError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise FaceError("bad_image", "not an image") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise FaceError("bad_image", "damaged image") from exc
    img = ImageOps.exif_transpose(img).convert("RGB")
    img.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BILINEAR)
    return np.asarray(img)


def _fr():
    import face_recognition
    from PIL import ImageFile

    # face_recognition turns on Pillow's LOAD_TRUNCATED_IMAGES for the whole process when imported;
    # this module reads images itself, and truncated uploads must stay refused everywhere.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    return face_recognition


def _grey(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def _laplacian_variance(grey: np.ndarray) -> float:
    if grey.shape[0] < 3 or grey.shape[1] < 3:
        return 0.0
    lap = grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:] - 4 * grey[1:-1, 1:-1]
    return float(lap.var())


def _centre(points) -> tuple[float, float]:
    xs, ys = zip(*points, strict=True)
    return sum(xs) / len(xs), sum(ys) / len(ys)


def pose(landmarks: dict) -> tuple[float, float]:
    """(yaw, roll°): the nose tip's sideways offset from the eyes' midpoint in eye distances, and
    the tilt of the line between the eyes."""
    left, right = _centre(landmarks["left_eye"]), _centre(landmarks["right_eye"])
    eye_dx, eye_dy = right[0] - left[0], right[1] - left[1]
    eye_distance = math.hypot(eye_dx, eye_dy) or 1.0
    nose = _centre(landmarks["nose_tip"])
    mid = ((left[0] + right[0]) / 2, (left[1] + right[1]) / 2)
    # Project the nose offset on the eye line: sideways turn, independent of roll.
    yaw = ((nose[0] - mid[0]) * eye_dx + (nose[1] - mid[1]) * eye_dy) / (eye_distance**2)
    roll = math.degrees(math.atan2(eye_dy, eye_dx))
    return yaw, roll


def eye_aspect_ratio(landmarks: dict) -> float:
    """Mean eye aspect ratio of both eyes (Soukupová & Čech): ~0.3 open, < 0.2 closed."""

    def ear(eye):
        p = [np.array(x, dtype=float) for x in eye]
        vertical = np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])
        horizontal = 2.0 * np.linalg.norm(p[0] - p[3]) or 1.0
        return float(vertical / horizontal)

    return (ear(landmarks["left_eye"]) + ear(landmarks["right_eye"])) / 2


def analyse(data: bytes, *, checks: bool = True) -> list[Face]:
    """Every face in the frame with its encoding and landmarks. With ``checks`` the frame must hold
    exactly one face of usable quality (FaceError otherwise): enrollment and identification."""
    rgb = load(data)
    fr = _fr()
    boxes = fr.face_locations(rgb, number_of_times_to_upsample=1, model="hog")
    if checks:
        if not boxes:
            raise FaceError("no_face")
        if len(boxes) > 1:
            raise FaceError("many_faces", str(len(boxes)))
    landmarks = fr.face_landmarks(rgb, boxes, model="large")
    encodings = fr.face_encodings(rgb, boxes, num_jitters=1, model="small")
    faces = []
    for box, marks, enc in zip(boxes, landmarks, encodings, strict=True):
        top, right, bottom, left = box
        crop = _grey(rgb[max(top, 0) : bottom, max(left, 0) : right].astype(float))
        yaw, roll = pose(marks)
        quality = {
            "size": int(min(bottom - top, right - left)),
            "blur": round(_laplacian_variance(crop), 1),
            "brightness": round(float(crop.mean()) if crop.size else 0.0, 1),
            "yaw": round(yaw, 3),
            "roll": round(roll, 1),
            "ear": round(eye_aspect_ratio(marks), 3),
        }
        faces.append(Face(box=tuple(int(v) for v in box), encoding=enc, landmarks=marks, quality=quality))
    if checks:
        check_quality(faces[0].quality)
    return faces


def check_quality(q: dict) -> None:
    """FaceError naming the first problem of a face: too small, too dark, blurry, turned away."""
    if q["size"] < MIN_FACE_PX:
        raise FaceError("too_small", str(q["size"]))
    if q["brightness"] < DARK_MIN:
        raise FaceError("too_dark", str(q["brightness"]))
    if q["blur"] < BLUR_MIN:
        raise FaceError("blurry", str(q["blur"]))
    if abs(q["yaw"]) > POSE_MAX_YAW or abs(q["roll"]) > POSE_MAX_ROLL_DEG:
        raise FaceError("pose", f"yaw {q['yaw']} roll {q['roll']}")


def liveness(qualities: list[dict], challenge: str) -> bool:
    """Did the frames (in order, each one face's quality dict) answer the challenge?

    ``blink``: the eyes are open, then closed in a later frame, then open again.
    ``turn``: the head turns: the yaw moves by more than 0.25 eye distances between frames."""
    if len(qualities) < 3:
        return False
    if challenge == "blink":
        ears = [q["ear"] for q in qualities]
        opened = EAR_CLOSED + 0.05
        return any(
            e < EAR_CLOSED and any(x >= opened for x in ears[:i]) and any(x >= opened for x in ears[i + 1 :])
            for i, e in enumerate(ears)
        )
    if challenge == "turn":
        yaws = [q["yaw"] for q in qualities]
        return max(yaws) - min(yaws) > 0.25
    return False


# Rows per block of distances(): a block's differences (1 MB) stay in the CPU cache, where the
# whole N×128 difference matrix at once (100 MB at 100,000 rows) would not.
BLOCK_ROWS = 1024


def distances(gallery: np.ndarray, encoding: np.ndarray) -> np.ndarray:
    """Euclidean distance from ``encoding`` to each row of ``gallery`` (N×128).

    Computed block by block, each row exactly as ``np.linalg.norm(gallery - encoding, axis=1)``
    computes it (the same values to the last bit), three times faster on large galleries."""
    if gallery.size == 0:
        return np.empty(0)
    if not gallery.flags.c_contiguous:  # rows not contiguous: summed in another order
        return np.linalg.norm(gallery - encoding, axis=1)
    n = gallery.shape[0]
    kind = np.result_type(gallery, encoding)
    block = np.empty((min(BLOCK_ROWS, n), *gallery.shape[1:]), dtype=kind)
    out = np.empty(n, dtype=kind if np.issubdtype(kind, np.floating) else np.float64)
    for start in range(0, n, BLOCK_ROWS):
        stop = min(start + BLOCK_ROWS, n)
        diff = block[: stop - start]
        np.subtract(gallery[start:stop], encoding, out=diff)
        out[start:stop] = np.linalg.norm(diff, axis=1)
    return out


# Rounding error of the expanded squared distances below, relative to the squared norms: float64
# errors are about 1e-14, so every row that can be the nearest is well within it.
EXPANDED_TOLERANCE = 1e-8


def _expanded(gallery: np.ndarray, encoding: np.ndarray) -> tuple[np.ndarray, float] | None:
    """Squared distances less ‖e‖² by the expansion ‖g‖² − 2g·e (one read of the gallery, no
    N×128 temporary), and how far they may be off; None where only distances() is exact
    enough (not float64, rows not contiguous, values not finite)."""
    e = np.asarray(encoding)
    if (
        gallery.dtype != np.float64
        or e.dtype != np.float64
        or gallery.ndim != 2
        or e.shape != gallery.shape[1:]
        or not gallery.flags.c_contiguous
    ):
        return None
    squared_norms = np.einsum("ij,ij->i", gallery, gallery)
    squared = squared_norms - 2.0 * np.einsum("ij,j->i", gallery, e)
    if not np.isfinite(squared).all():
        return None
    return squared, EXPANDED_TOLERANCE * (float(squared_norms.max()) + float(e @ e))


@dataclass(frozen=True)
class Match:
    staff_id: int | None
    distance: float | None
    second_distance: float | None
    result: str  # matched | unknown | ambiguous


def best_match(
    gallery: np.ndarray, owners: np.ndarray, encoding: np.ndarray, *, threshold: float, margin: float
) -> Match:
    """1:N: the owner of the nearest encoding, if it is within ``threshold`` and ahead of the
    nearest encoding of any OTHER person by ``margin``."""
    if gallery.size == 0:
        return Match(None, None, None, "unknown")
    near = _expanded(gallery, encoding)
    if near is None:
        d = distances(gallery, encoding)
        i = int(np.argmin(d))
        best, owner = float(d[i]), int(owners[i])
        others = d[owners != owner]
        second = float(others.min()) if others.size else None
    else:
        # The rows within the expansion's tolerance of the nearest, measured again exactly: the
        # same nearest row (the first of equals), the same distances as distances() gives.
        squared, tolerance = near
        rows = np.flatnonzero(squared <= squared.min() + tolerance)
        d = distances(gallery[rows], encoding)
        k = int(np.argmin(d))
        best, owner = float(d[k]), int(owners[rows[k]])
        other = owners != owner
        second = None
        if other.any():
            rest = squared[other].min()
            rows = np.flatnonzero(other & (squared <= rest + tolerance))
            second = float(distances(gallery[rows], encoding).min())
    if best > threshold:
        return Match(None, best, second, "unknown")
    if second is not None and second - best < margin:
        return Match(None, best, second, "ambiguous")
    return Match(owner, best, second, "matched")
