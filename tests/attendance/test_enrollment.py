"""Consent, enrollment with liveness and the no-buddy-punching rule, deletion; on real photos."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from django.core.exceptions import ValidationError

from attendance import crypto, faces, gallery, services
from attendance.models import FaceConsent, FaceEncoding
from retail.events import Actor
from retail.models import AuditLog
from retail.tenancy import brand_scope
from tests.factories import StaffFactory
from tests.helpers.faces import FACES

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not FACES.is_dir(), reason="the face photos (../shared/faces) are not here"),
]


@pytest.fixture(scope="module")
def analysed():
    """Each photo analysed once (checks off: the enrollment service checks them itself)."""
    return {
        name: faces.analyse((FACES / name).read_bytes(), checks=False)
        for name in (
            "obama.jpg",
            "obama2.jpg",
            "obama_small.jpg",
            "biden.jpg",
            "biden2.jpg",
            "obama_and_biden.jpg",
        )
    }


@pytest.fixture(autouse=True)
def _fresh_gallery():
    gallery.forget()
    yield
    gallery.forget()


def blink(found: list[faces.Face]) -> list[list[faces.Face]]:
    """Three frames of the photo's face with the eyes open, closed, open (a live blink)."""
    face = found[0]
    frames = []
    for ear in (0.31, 0.12, 0.30):
        frames.append([replace(face, quality={**face.quality, "ear": ear})])
    return frames


@pytest.fixture
def consent_text(brand, brand_admin):
    return services.consent_text_publish(
        brand=brand,
        manager=brand_admin,
        actor=Actor.system(),
        title="人脸信息处理单独同意",
        body="我们只保存人脸特征值……",
    )


def consented(brand, staff, text):
    services.consent_give(brand=brand, staff=staff, actor=Actor.system(), text=text)
    return staff


def enroll(brand, staff, found, **kwargs):
    return services.face_enroll(
        brand=brand,
        staff=staff,
        actor=Actor.system(),
        frames=blink(found),
        challenge="blink",
        source="phone",
        **kwargs,
    )


def _audit(brand, action):
    with brand_scope(brand):
        return list(AuditLog.objects.for_brand(brand).filter(action=action))


def test_enrollment_keeps_only_an_encrypted_encoding(brand, store, consent_text, analysed):
    guide = consented(brand, StaffFactory(brand=brand, stores=[store]), consent_text)
    row = enroll(brand, guide, analysed["obama.jpg"])
    with brand_scope(brand):
        row = FaceEncoding.objects.for_brand(brand).get(pk=row.pk)
    raw = bytes(row.ciphertext)
    assert len(raw) > 1024 and row.key_id == crypto.current_key_id()
    assert analysed["obama.jpg"][0].encoding.tobytes() not in raw  # not stored in the clear
    assert (crypto.decrypt(raw, row.key_id) == analysed["obama.jpg"][0].encoding).all()
    assert set(row.quality) == {"size", "blur", "brightness", "yaw", "roll"}
    assert _audit(brand, "face.enrolled")


def test_the_same_person_enrolls_again_up_to_three(brand, store, consent_text, analysed):
    guide = consented(brand, StaffFactory(brand=brand, stores=[store]), consent_text)
    for name in ("obama.jpg", "obama2.jpg", "obama_small.jpg", "obama2.jpg"):
        enroll(brand, guide, analysed[name])
    with brand_scope(brand):
        assert FaceEncoding.objects.for_brand(brand).filter(staff=guide).count() == 3


def test_another_persons_face_is_refused_for_an_enrolled_account(brand, store, consent_text, analysed):
    guide = consented(brand, StaffFactory(brand=brand, stores=[store]), consent_text)
    enroll(brand, guide, analysed["obama.jpg"])
    with pytest.raises(ValidationError) as err:
        enroll(brand, guide, analysed["biden.jpg"])
    assert err.value.code == "not_same_person"


def test_a_face_enrolled_for_one_person_is_refused_for_another_and_both_are_named(
    brand, store, other_store, consent_text, analysed
):
    first = consented(brand, StaffFactory(brand=brand, stores=[store], name="王丽"), consent_text)
    enroll(brand, first, analysed["obama.jpg"])
    # Another person, in another store of the brand, with another photo of the same face.
    buddy = consented(brand, StaffFactory(brand=brand, name="赵强"), consent_text)
    with pytest.raises(ValidationError) as err:
        enroll(brand, buddy, analysed["obama2.jpg"])
    assert err.value.code == "duplicate_face"
    (refusal,) = _audit(brand, "face.enrollment_refused")
    assert refusal.data["staff"] == "赵强" and refusal.data["other"] == "王丽"
    with brand_scope(brand):
        assert not FaceEncoding.objects.for_brand(brand).filter(staff=buddy).exists()
    # A different face enrolls fine.
    enroll(brand, buddy, analysed["biden.jpg"])


def test_the_same_face_in_another_brand_is_not_compared(brand, store, other_brand, consent_text, analysed):
    from tests.factories import StoreFactory

    mine = consented(brand, StaffFactory(brand=brand, stores=[store]), consent_text)
    enroll(brand, mine, analysed["obama.jpg"])
    admin = StaffFactory(brand=other_brand, role="brand_admin")
    text = services.consent_text_publish(
        brand=other_brand, manager=admin, actor=Actor.system(), title="同意", body="……"
    )
    theirs = consented(
        other_brand, StaffFactory(brand=other_brand, stores=[StoreFactory(brand=other_brand)]), text
    )
    enroll(other_brand, theirs, analysed["obama2.jpg"])


def test_someone_who_left_no_longer_blocks_a_face(brand, store, consent_text, analysed):
    first = consented(brand, StaffFactory(brand=brand, stores=[store]), consent_text)
    enroll(brand, first, analysed["obama.jpg"])
    with brand_scope(brand):
        type(first).objects.for_brand(brand).filter(pk=first.pk).update(status="left", left_on=date.today())
    services.encodings_delete(brand=brand, staff=first, actor=Actor.system(), reason="left")
    second = consented(brand, StaffFactory(brand=brand, stores=[store]), consent_text)
    enroll(brand, second, analysed["obama2.jpg"])


def test_enrollment_needs_current_consent(brand, store, brand_admin, consent_text, analysed):
    guide = StaffFactory(brand=brand, stores=[store])
    with pytest.raises(ValidationError) as err:
        enroll(brand, guide, analysed["obama.jpg"])
    assert err.value.code == "no_consent"
    newer = services.consent_text_publish(
        brand=brand, manager=brand_admin, actor=Actor.system(), title="v2", body="……"
    )
    with pytest.raises(ValidationError) as err:
        services.consent_give(brand=brand, staff=guide, actor=Actor.system(), text=consent_text)
    assert err.value.code == "stale_consent"
    services.consent_give(brand=brand, staff=guide, actor=Actor.system(), text=newer)
    enroll(brand, guide, analysed["obama.jpg"])


def test_withdrawing_consent_deletes_the_encodings(brand, store, consent_text, analysed):
    guide = consented(brand, StaffFactory(brand=brand, stores=[store]), consent_text)
    enroll(brand, guide, analysed["obama.jpg"])
    enroll(brand, guide, analysed["obama2.jpg"])
    assert services.consent_withdraw(brand=brand, staff=guide, actor=Actor.system()) == 2
    with brand_scope(brand):
        assert not FaceEncoding.objects.for_brand(brand).filter(staff=guide).exists()
        assert FaceConsent.objects.for_brand(brand).get(staff=guide).withdrawn_at is not None
    assert _audit(brand, "face.consent_withdrawn") and _audit(brand, "face.deleted")
    with pytest.raises(ValidationError):
        enroll(brand, guide, analysed["obama.jpg"])


def test_group_photos_still_photos_and_bad_frames_are_refused(brand, store, consent_text, analysed):
    guide = consented(brand, StaffFactory(brand=brand, stores=[store]), consent_text)
    group = analysed["obama_and_biden.jpg"]
    assert len(group) == 3
    with pytest.raises(ValidationError) as err:
        services.face_enroll(
            brand=brand,
            staff=guide,
            actor=Actor.system(),
            frames=[group] * 3,
            challenge="blink",
            source="phone",
        )
    assert err.value.code == "many_faces"
    # A still photo held up to the camera: the eyes never close.
    still = [analysed["obama.jpg"]] * 3
    with pytest.raises(ValidationError) as err:
        services.face_enroll(
            brand=brand, staff=guide, actor=Actor.system(), frames=still, challenge="blink", source="phone"
        )
    assert err.value.code == "liveness"
    with pytest.raises(ValidationError) as err:
        services.face_enroll(
            brand=brand,
            staff=guide,
            actor=Actor.system(),
            frames=[[], [], []],
            challenge="blink",
            source="phone",
        )
    assert err.value.code == "no_face"
    with brand_scope(brand):
        assert not FaceEncoding.objects.for_brand(brand).exists()


def test_every_load_of_the_gallery_is_audited(brand, store, consent_text, analysed):
    guide = consented(brand, StaffFactory(brand=brand, stores=[store]), consent_text)
    enroll(brand, guide, analysed["obama.jpg"])
    before = len(_audit(brand, "face.read"))
    g = gallery.load(brand, purpose="identify")
    assert g.matrix.shape == (1, 128)
    assert len(_audit(brand, "face.read")) == before + 1
    gallery.load(brand, purpose="identify")  # from memory: no new read
    assert len(_audit(brand, "face.read")) == before + 1


def test_only_brand_admins_change_the_policy(brand, store_manager, brand_admin):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.policy_update(
            brand=brand, manager=store_manager, actor=Actor.system(), data={"phone_face": "never"}
        )
    policy = services.policy_update(
        brand=brand, manager=brand_admin, actor=Actor.system(), data={"phone_face": "always"}
    )
    assert policy.phone_face == "always" and policy.match_threshold == 0.45
    with pytest.raises(ValidationError):
        services.policy_update(
            brand=brand, manager=brand_admin, actor=Actor.system(), data={"match_threshold": 0.9}
        )


def test_leaving_the_brand_deletes_the_encodings(
    brand, store, brand_admin, consent_text, analysed, django_capture_on_commit_callbacks
):
    from retail import services as retail_services

    guide = consented(brand, StaffFactory(brand=brand, stores=[store]), consent_text)
    enroll(brand, guide, analysed["obama.jpg"])
    with django_capture_on_commit_callbacks(execute=True):
        retail_services.staff_deactivate(brand=brand, manager=brand_admin, actor=Actor.system(), staff=guide)
    with brand_scope(brand):
        assert not FaceEncoding.objects.for_brand(brand).filter(staff=guide).exists()
    assert _audit(brand, "face.deleted")[0].data["reason"] == "left"


def test_key_rotation_re_encrypts_every_encoding(brand, store, consent_text, analysed, settings):
    from cryptography.fernet import Fernet
    from django.core.management import call_command

    guide = consented(brand, StaffFactory(brand=brand, stores=[store]), consent_text)
    enroll(brand, guide, analysed["obama.jpg"])
    old = settings.FACE_ENCRYPTION_KEYS
    settings.FACE_ENCRYPTION_KEYS = ["k2:" + Fernet.generate_key().decode(), *old]
    call_command("face_keys_rotate", stdout=open("/dev/null", "w"))  # noqa: SIM115
    with brand_scope(brand):
        row = FaceEncoding.objects.for_brand(brand).get(staff=guide)
    assert row.key_id == "k2"
    settings.FACE_ENCRYPTION_KEYS = settings.FACE_ENCRYPTION_KEYS[:1]  # the old key removed
    assert (crypto.decrypt(row.ciphertext, row.key_id) == analysed["obama.jpg"][0].encoding).all()
