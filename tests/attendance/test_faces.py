"""The face engine on real photos (../shared/faces): detection, encodings, quality, matching."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageFilter

from attendance import faces
from tests.helpers.faces import FACES

pytestmark = pytest.mark.skipif(not FACES.is_dir(), reason="the face photos (../shared/faces) are not here")


def photo(name: str) -> bytes:
    return (FACES / name).read_bytes()


@pytest.fixture(scope="module")
def enc():
    """One encoding per photo, computed once."""
    out = {}
    for name in ("obama.jpg", "obama2.jpg", "obama_small.jpg", "biden.jpg", "biden2.jpg"):
        (face,) = faces.analyse(photo(name), checks=False)
        out[name] = face.encoding
    return out


def test_the_same_person_matches_and_another_does_not(enc):
    same = [("obama.jpg", "obama2.jpg"), ("obama.jpg", "obama_small.jpg"), ("biden.jpg", "biden2.jpg")]
    for a, b in same:
        assert np.linalg.norm(enc[a] - enc[b]) < 0.45, (a, b)
    for a in ("obama.jpg", "obama2.jpg", "obama_small.jpg"):
        for b in ("biden.jpg", "biden2.jpg"):
            assert np.linalg.norm(enc[a] - enc[b]) > 0.6, (a, b)


def test_best_match_among_many_people(enc):
    rng = np.random.default_rng(7)
    strangers = rng.normal(0, 0.08, size=(500, 128)) + enc["biden.jpg"] * 0  # far from everyone
    gallery = np.vstack([strangers, enc["obama.jpg"], enc["biden.jpg"]])
    owners = np.array(list(range(1000, 1500)) + [1, 2])
    m = faces.best_match(gallery, owners, enc["obama2.jpg"], threshold=0.45, margin=0.06)
    assert (m.result, m.staff_id) == ("matched", 1)
    m = faces.best_match(gallery, owners, enc["biden2.jpg"], threshold=0.45, margin=0.06)
    assert (m.result, m.staff_id) == ("matched", 2)
    # Two people enrolled with near-identical encodings: too close to call.
    twin = np.vstack([enc["obama.jpg"], enc["obama_small.jpg"]])
    m = faces.best_match(twin, np.array([1, 3]), enc["obama2.jpg"], threshold=0.45, margin=0.06)
    assert m.result == "ambiguous" and m.staff_id is None
    # Nobody near: unknown.
    m = faces.best_match(gallery[:500], owners[:500], enc["obama.jpg"], threshold=0.45, margin=0.06)
    assert m.result == "unknown"
    assert (
        faces.best_match(
            np.empty((0, 128)), np.empty(0), enc["obama.jpg"], threshold=0.45, margin=0.06
        ).result
        == "unknown"
    )


def test_enrollment_checks_refuse_group_photos_and_empty_frames():
    with pytest.raises(faces.FaceError) as err:
        faces.analyse(photo("obama_and_biden.jpg"))
    assert err.value.code == "many_faces"
    blank = io.BytesIO()
    Image.new("RGB", (400, 300), (200, 180, 170)).save(blank, "JPEG")
    with pytest.raises(faces.FaceError) as err:
        faces.analyse(blank.getvalue())
    assert err.value.code == "no_face"
    (face,) = faces.analyse(photo("obama.jpg"))
    assert face.encoding.shape == (128,)


def test_quality_refusals():
    img = Image.open(io.BytesIO(photo("obama.jpg"))).convert("RGB")
    blurred = io.BytesIO()
    img.filter(ImageFilter.GaussianBlur(12)).save(blurred, "JPEG")
    (face,) = faces.analyse(photo("obama.jpg"))
    assert face.quality["blur"] > faces.BLUR_MIN
    found = faces.analyse(blurred.getvalue(), checks=False)
    if found:  # so blurred that the detector may not even see a face
        with pytest.raises(faces.FaceError) as err:
            faces.check_quality(found[0].quality)
        assert err.value.code == "blurry"
    dark = io.BytesIO()
    img.point(lambda v: v // 8).save(dark, "JPEG")
    found = faces.analyse(dark.getvalue(), checks=False)
    if found:
        with pytest.raises(faces.FaceError) as err:
            faces.check_quality(found[0].quality)
        assert err.value.code in ("too_dark", "blurry")
    small = io.BytesIO()
    img.resize((120, 150)).save(small, "JPEG")
    with pytest.raises(faces.FaceError) as err:
        faces.analyse(small.getvalue())
    assert err.value.code in ("too_small", "no_face")


@pytest.mark.parametrize("data", [b"", b"not an image", b"\xff\xd8\xff" + b"\x00" * 100])
def test_what_is_not_an_image_is_refused(data):
    with pytest.raises(faces.FaceError) as err:
        faces.analyse(data)
    assert err.value.code == "bad_image"


def test_liveness_needs_a_blink_or_a_turn():
    open_eyes = {"ear": 0.31, "yaw": 0.0}
    closed = {"ear": 0.12, "yaw": 0.0}
    assert faces.liveness([open_eyes, closed, open_eyes], "blink")
    assert not faces.liveness([open_eyes, open_eyes, open_eyes], "blink")
    assert not faces.liveness([closed, closed, closed], "blink")  # a photo of closed eyes
    assert not faces.liveness([open_eyes, closed], "blink")
    turning = [{"ear": 0.3, "yaw": y} for y in (-0.2, 0.0, 0.15)]
    assert faces.liveness(turning, "turn")
    assert not faces.liveness([{"ear": 0.3, "yaw": 0.01}] * 4, "turn")
    assert not faces.liveness([open_eyes, closed, open_eyes], "dance")


def _distances_before(gallery, encoding):
    """distances() as it was first written: the reference the faster version must equal."""
    if gallery.size == 0:
        return np.empty(0)
    return np.linalg.norm(gallery - encoding, axis=1)


def _best_match_before(gallery, owners, encoding, *, threshold, margin):
    """best_match() as it was first written."""
    d = _distances_before(gallery, encoding)
    if d.size == 0:
        return faces.Match(None, None, None, "unknown")
    i = int(np.argmin(d))
    best, owner = float(d[i]), int(owners[i])
    others = d[owners != owner]
    second = float(others.min()) if others.size else None
    if best > threshold:
        return faces.Match(None, best, second, "unknown")
    if second is not None and second - best < margin:
        return faces.Match(None, best, second, "ambiguous")
    return faces.Match(owner, best, second, "matched")


def test_distances_and_best_match_equal_the_plain_computation_to_the_last_bit(enc):
    rng = np.random.default_rng(16)
    real = np.vstack([enc[n] for n in sorted(enc)])
    sizes = (1, 2, 5, faces.BLOCK_ROWS - 1, faces.BLOCK_ROWS, faces.BLOCK_ROWS + 1, 3 * faces.BLOCK_ROWS + 17)
    for n in sizes:
        rows = real[rng.integers(0, len(real), n)] + rng.normal(0, rng.choice([1e-9, 0.02, 0.1]), (n, 128))
        rows[rng.integers(0, n, n // 4)] = rows[-1]  # exact duplicates: ties for the nearest
        owners = rng.integers(1, max(2, n // 3), n)
        for layout in ("C", "F"):
            for dtype in (np.float64, np.float32):
                gallery = np.asarray(rows.astype(dtype), order=layout)
                for probe in [*real, rows[-1], rows[-1] + 1e-12, rows[0] + 0.01]:
                    probe = probe.astype(dtype)
                    got, want = faces.distances(gallery, probe), _distances_before(gallery, probe)
                    assert got.dtype == want.dtype and np.array_equal(got, want), (n, dtype, layout)
                    for threshold, margin in ((0.45, 0.06), (0.6, 0.0), (10.0, 0.5)):
                        kw = {"threshold": threshold, "margin": margin}
                        assert faces.best_match(gallery, owners, probe, **kw) == _best_match_before(
                            gallery, owners, probe, **kw
                        ), (n, dtype, layout, threshold)
    ints = np.arange(2 * 128).reshape(2, 128)
    assert np.array_equal(faces.distances(ints, ints[0]), _distances_before(ints, ints[0]))
    assert faces.distances(np.empty((0, 128)), real[0]).size == 0
