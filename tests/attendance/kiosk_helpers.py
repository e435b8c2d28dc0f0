"""Shared by the kiosk tests: faces analysed once per process, a person enrolled with a live blink."""

from __future__ import annotations

import functools
from dataclasses import replace

from django.contrib.auth.hashers import make_password

from attendance import faces, services
from attendance.models import StaffPin
from retail.events import Actor
from retail.tenancy import brand_scope
from tests.helpers.faces import FACES


@functools.cache
def analysed(name: str) -> list[faces.Face]:
    return faces.analyse((FACES / name).read_bytes(), checks=False)


def enroll(brand, admin, staff, photo: str = "obama.jpg"):
    """``staff`` gives consent and enrolls the photo's face (three frames: open, closed, open)."""
    text = services.consent_text_publish(
        brand=brand, manager=admin, actor=Actor.system(), title="人脸信息处理单独同意", body="只保存特征值"
    )
    services.consent_give(brand=brand, staff=staff, actor=Actor.system(), text=text)
    face = analysed(photo)[0]
    frames = [[replace(face, quality={**face.quality, "ear": ear})] for ear in (0.31, 0.12, 0.30)]
    return services.face_enroll(
        brand=brand, staff=staff, actor=Actor.system(), frames=frames, challenge="blink", source="phone"
    )


def set_pin(brand, staff, pin: str) -> StaffPin:
    with brand_scope(brand):
        row, _ = StaffPin.objects.update_or_create(
            brand=brand, staff=staff, defaults={"pin_hash": make_password(pin), "failed_count": 0}
        )
    return row
