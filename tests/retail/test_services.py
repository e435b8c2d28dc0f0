"""Services of the tenancy core: permissions, audit in the same transaction, concurrency."""

import threading

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction

from retail import services
from retail.events import Actor
from retail.models import AuditLog, Invitation, Staff, Store, User
from retail.phones import mask_phone, normalize_phone
from retail.tenancy import brand_scope
from tests.factories import StaffFactory, StoreFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("13800001111", "13800001111"),
        ("+86 138 0000 1111", "13800001111"),
        ("0086-138-0000-1111", "13800001111"),
    ],
)
def test_phone_normalisation(raw, expected):
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize("raw", ["", "1234", "23800001111", "138000011112", "abc", "+1 415 555 0100"])
def test_phone_validation(raw):
    with pytest.raises(ValidationError):
        normalize_phone(raw)


def test_phone_mask():
    assert mask_phone("13800001111") == "138****1111"


def test_audit_entry_rolls_back_with_the_action(brand, brand_admin):
    actor = Actor(user=brand_admin.user, ip="10.0.0.1", user_agent="pytest")
    with pytest.raises(RuntimeError), transaction.atomic():
        services.store_create(brand=brand, manager=brand_admin, actor=actor, data={"code": "T1", "name": "t"})
        raise RuntimeError("boom after the write")
    with brand_scope(brand):
        assert not Store.objects.filter(code="T1").exists()
        assert not AuditLog.objects.filter(action="store.created").exists()
    services.store_create(brand=brand, manager=brand_admin, actor=actor, data={"code": "T1", "name": "t"})
    with brand_scope(brand):
        entry = AuditLog.objects.get(action="store.created")
    assert (entry.actor, entry.ip, entry.user_agent, entry.target_repr) == (
        brand_admin.user,
        "10.0.0.1",
        "pytest",
        "t (T1)",
    )


def test_audit_log_refuses_edits_in_python(brand, brand_admin):
    services.store_create(
        brand=brand, manager=brand_admin, actor=Actor.system(), data={"code": "T1", "name": "t"}
    )
    with brand_scope(brand):
        entry = AuditLog.objects.get()
        entry.action = "x"
        with pytest.raises(ValidationError):
            entry.save()
        with pytest.raises(ValidationError):
            entry.delete()


def test_store_update_records_changes(brand, brand_admin, store):
    services.store_update(
        brand=brand,
        manager=brand_admin,
        actor=Actor.system(),
        store=store,
        data={"name": "新名字", "code": store.code},
    )
    with brand_scope(brand):
        entry = AuditLog.objects.get(action="store.updated")
    assert entry.data == {"changes": {"name": ["南京西路店", "新名字"]}}


def test_only_brand_admins_manage_stores(brand, store_manager, guide):
    for who in (store_manager, guide):
        with pytest.raises(PermissionDenied):
            services.store_create(
                brand=brand, manager=who, actor=Actor.system(), data={"code": "X", "name": "x"}
            )


def test_service_refuses_a_manager_of_another_brand(brand, other_admin, store):
    with pytest.raises(PermissionDenied):
        services.staff_invite(
            brand=brand,
            manager=other_admin,
            actor=Actor.system(),
            name="x",
            phone="13600001111",
            role=Staff.Role.GUIDE,
            store_ids=[store.pk],
        )
    with brand_scope(brand):
        assert not Staff.objects.filter(user__phone="13600001111").exists()


def test_store_manager_cannot_touch_staff_outside_their_store(brand, store_manager):
    far = StoreFactory(brand=brand, code="FAR")
    far_guide = StaffFactory(brand=brand, stores=[far])
    with pytest.raises(PermissionDenied):
        services.staff_deactivate(brand=brand, manager=store_manager, actor=Actor.system(), staff=far_guide)
    with pytest.raises(PermissionDenied):
        services.staff_update(
            brand=brand,
            manager=store_manager,
            actor=Actor.system(),
            staff=far_guide,
            data={"name": "x"},
        )


def test_store_manager_cannot_promote(brand, store_manager, guide):
    with pytest.raises(ValidationError):
        services.staff_update(
            brand=brand,
            manager=store_manager,
            actor=Actor.system(),
            staff=guide,
            data={"role": "brand_admin"},
        )
    with brand_scope(brand):
        assert Staff.objects.get(pk=guide.pk).role == Staff.Role.GUIDE


def test_deactivation_revokes_open_invitations_and_keeps_history(brand, brand_admin, store):
    staff, _ = services.staff_invite(
        brand=brand,
        manager=brand_admin,
        actor=Actor.system(),
        name="x",
        phone="13600001111",
        role=Staff.Role.GUIDE,
        store_ids=[store.pk],
    )
    services.staff_deactivate(brand=brand, manager=brand_admin, actor=Actor.system(), staff=staff)
    with brand_scope(brand):
        assert Invitation.objects.get(staff=staff).revoked_at is not None
        staff = Staff.objects.get(pk=staff.pk)
        assert staff.status == Staff.Status.LEFT and staff.left_on is not None
        assert list(staff.stores.values_list("code", flat=True)) == ["SH001"]
    again = services.staff_deactivate(brand=brand, manager=brand_admin, actor=Actor.system(), staff=staff)
    assert again.status == Staff.Status.LEFT  # idempotent


def test_promoter_gets_one_login_for_two_brands(
    brand, other_brand, brand_admin, other_admin, store, other_store
):
    a, _ = services.staff_invite(
        brand=brand,
        manager=brand_admin,
        actor=Actor.system(),
        name="周敏",
        phone="13900000009",
        role=Staff.Role.GUIDE,
        store_ids=[store.pk],
    )
    b, _ = services.staff_invite(
        brand=other_brand,
        manager=other_admin,
        actor=Actor.system(),
        name="周敏",
        phone="+8613900000009",
        role=Staff.Role.GUIDE,
        store_ids=[other_store.pk],
    )
    assert a.user_id == b.user_id
    assert User.objects.filter(phone="13900000009").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_invites_of_one_phone_create_one_staff_record(brand, brand_admin, store):
    barrier = threading.Barrier(6)
    results: list = []

    def invite():
        try:
            barrier.wait()
            services.staff_invite(
                brand=brand,
                manager=brand_admin,
                actor=Actor.system(),
                name="抢注",
                phone="13655556666",
                role=Staff.Role.GUIDE,
                store_ids=[store.pk],
            )
            results.append("ok")
        except ValidationError as exc:
            results.append(exc.message_dict)
        finally:
            connection.close()

    threads = [threading.Thread(target=invite) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("ok") == 1, results
    assert all("phone" in r for r in results if r != "ok")
    with brand_scope(brand):
        assert Staff.objects.filter(user__phone="13655556666").count() == 1
        assert Invitation.objects.count() == 1
    assert User.objects.filter(phone="13655556666").count() == 1


@pytest.mark.parametrize("code", ["login", "Orders", "coupons"])
def test_store_codes_that_shadow_cloud_store_paths_are_refused(brand, brand_admin, code):
    from django.core.exceptions import ValidationError

    from retail import services
    from retail.events import Actor

    with pytest.raises(ValidationError):
        services.store_create(
            brand=brand, manager=brand_admin, actor=Actor(), data={"code": code, "name": "x"}
        )
