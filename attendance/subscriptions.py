"""Kernel events that reach attendance after their transaction commits (settings.OUTBOX_SUBSCRIBERS)."""

from attendance import services
from retail.events import Actor
from retail.models import Brand, Staff
from retail.tenancy import brand_scope


def on_staff_left(*, brand_id: int, name: str, payload: dict) -> None:
    """A person who left the brand keeps no face data: their encodings are deleted."""
    brand = Brand.objects.get(pk=brand_id)
    with brand_scope(brand):
        staff = Staff.objects.for_brand(brand).filter(pk=payload["staff_id"]).first()
    if staff is not None:
        services.encodings_delete(brand=brand, staff=staff, actor=Actor.system(), reason="left")
