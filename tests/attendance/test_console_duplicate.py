"""A face refused at enrollment as already enrolled for someone else (no buddy punching): the brand's
admins get an in-app notification naming both people and a push, once per pair within an hour;
store managers, guides and another brand hear nothing. Real photos; only the payload of
``face.duplicate`` crosses from attendance to guides."""

from __future__ import annotations

from dataclasses import replace

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from attendance import faces, gallery, services
from guides.models import Notification
from guides.push import LogPush
from guides.services import notify
from retail.events import Actor
from retail.models import Staff
from retail.tenancy import brand_scope, rls_bypass
from tests.factories import StaffFactory
from tests.helpers.auth import login_as
from tests.helpers.faces import FACES

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not FACES.is_dir(), reason="the face photos (../shared/faces) are not here"),
]


@pytest.fixture(autouse=True)
def _clean():
    gallery.forget()
    LogPush.outbox.clear()
    yield
    gallery.forget()


@pytest.fixture(scope="module")
def analysed():
    return {n: faces.analyse((FACES / n).read_bytes(), checks=False) for n in ("obama.jpg", "obama2.jpg")}


def blink(found):
    face = found[0]
    return [[replace(face, quality={**face.quality, "ear": ear})] for ear in (0.31, 0.12, 0.30)]


def enroll(brand, staff, found):
    return services.face_enroll(
        brand=brand, staff=staff, actor=Actor.system(), frames=blink(found), challenge="blink", source="phone"
    )


def notes(brand) -> list[Notification]:
    with brand_scope(brand):
        return list(Notification.objects.for_brand(brand).filter(kind="face_duplicate").order_by("staff_id"))


def test_the_brand_admins_are_told_both_names_once(
    client, brand, store, brand_admin, store_manager, other_brand, other_admin, analysed
):
    second_admin = StaffFactory(brand=brand, role=Staff.Role.BRAND_ADMIN, name="周婷")
    StaffFactory(
        brand=brand,
        role=Staff.Role.BRAND_ADMIN,
        name="离职管理员",
        status=Staff.Status.LEFT,
        left_on="2026-01-05",
    )
    text = services.consent_text_publish(
        brand=brand, manager=brand_admin, actor=Actor.system(), title="同意书", body="只保存特征值。"
    )
    first = StaffFactory(brand=brand, stores=[store], name="王丽")
    buddy = StaffFactory(brand=brand, stores=[store], name="赵强")
    for person in (first, buddy):
        services.consent_give(brand=brand, staff=person, actor=Actor.system(), text=text)
    enroll(brand, first, analysed["obama.jpg"])
    with pytest.raises(ValidationError) as err:
        enroll(brand, buddy, analysed["obama2.jpg"])
    assert err.value.code == "duplicate_face"

    told = notes(brand)
    assert sorted(n.staff_id for n in told) == sorted([brand_admin.pk, second_admin.pk])
    assert told[0].data == {"staff_id": buddy.pk, "other_id": first.pk, "staff": "赵强", "other": "王丽"}
    assert told[0].link.startswith("/dashboard/attendance/faces/?q=")
    with translation.override("zh-hans"):
        assert "赵强" in told[0].message and "王丽" in told[0].message
        assert told[0].get_kind_display() != "face_duplicate"
    assert sorted(p["staff"] for p in LogPush.outbox) == sorted([brand_admin.pk, second_admin.pk])
    assert "赵强" in LogPush.outbox[0]["body"] and "王丽" in LogPush.outbox[0]["body"]

    # trying again at once: refused again, the admins are not told twice
    with pytest.raises(ValidationError):
        enroll(brand, buddy, analysed["obama2.jpg"])
    assert len(notes(brand)) == 2 and len(LogPush.outbox) == 2

    # the admin reads it on the notifications page, and the link opens the face data page
    login_as(client, brand_admin)
    page = client.get("/m/notifications/").content.decode()
    assert "赵强" in page and "王丽" in page
    assert client.get(told[0].link).status_code == 200
    with rls_bypass(reason="test: the other brand hears nothing"):
        assert not Notification.unscoped.filter(brand=other_brand).exists()


def test_a_payload_without_a_person_tells_nobody(brand, brand_admin):
    assert notify.face_duplicate(brand=brand, payload={}) == 0
    assert notes(brand) == []
