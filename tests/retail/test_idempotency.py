"""The idempotency kernel: the key reader, the fingerprint, replay of the first answer, the 409
on another body, keys that stay apart per brand and per person, and duplicates racing on
PostgreSQL that write one record."""

import pytest
from django.db import IntegrityError
from django.test import RequestFactory
from django.utils import translation
from rest_framework import exceptions

from members.models import PointsEntry
from retail import idempotency
from retail.api_base import exception_handler
from retail.tenancy import brand_scope
from tests.factories import MemberFactory, StaffFactory
from tests.helpers.concurrency import race


def _request(key=None):
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return RequestFactory().post("/", **headers)


def _field_error(key) -> list[str]:
    with translation.override("en"), pytest.raises(exceptions.ValidationError) as caught:
        idempotency.read_key(_request(key), staff=_Staff(7))
    with translation.override("en"):
        return [str(m) for m in caught.value.detail["Idempotency-Key"]]


class _Staff:
    def __init__(self, pk):
        self.pk = pk


def _entry(brand, member, key, fingerprint, amount=10) -> PointsEntry:
    return PointsEntry.objects.create(
        brand=brand,
        member=member,
        kind=PointsEntry.Kind.EARN,
        amount=amount,
        remaining=amount,
        balance_after=amount,
        source=key,
        request_hash=idempotency.digest(fingerprint),
    )


def _once(brand, member, key, fingerprint, amount=10) -> PointsEntry:
    with brand_scope(brand):
        return idempotency.once(
            lambda: idempotency.replayed(PointsEntry, brand, key, fingerprint, field="source"),
            lambda: _entry(brand, member, key, fingerprint, amount),
        )


# --- the key -------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", [None, "", "   "])
def test_a_missing_key_is_required(key):
    assert _field_error(key) == ["This header is required."]


@pytest.mark.parametrize("key", ["k" * 101, "tab\there"])
def test_a_key_too_long_or_not_printable_is_refused(key):
    assert _field_error(key) == ["At most 100 printable characters."]


def test_the_key_is_namespaced_by_the_caller_and_the_surface():
    assert idempotency.read_key(_request(" order-1 "), staff=_Staff(7)) == "api:7:order-1"
    assert idempotency.read_key(_request("k" * 100), staff=_Staff(8)) == "api:8:" + "k" * 100
    assert idempotency.page_key(_Staff(7), "order-1") == "page:7:order-1"


def test_the_fingerprint_covers_the_body_not_its_order():
    fp = idempotency.request_fingerprint
    assert fp({"a": 1, "b": [1, 2]}) == fp({"b": [1, 2], "a": 1})
    assert fp({"a": 1}) != fp({"a": 2})
    assert len(idempotency.digest("x" * 65)) == 64 and idempotency.digest("short") == "short"


# --- replay and conflict ------------------------------------------------------------------------


def test_a_replay_answers_the_first_record(brand):
    member = MemberFactory(brand=brand)
    first = _once(brand, member, "api:1:k", "fp-1")
    again = _once(brand, member, "api:1:k", "fp-1", amount=99)
    assert first.replayed is False and again.replayed is True
    assert again.pk == first.pk and again.amount == 10
    assert idempotency.answer_status(first) == 201 and idempotency.answer_headers(first) is None
    assert idempotency.answer_status(again) == 200
    assert idempotency.answer_headers(again) == {"Idempotent-Replayed": "true"}
    with brand_scope(brand):
        assert PointsEntry.objects.filter(source="api:1:k").count() == 1


def test_the_same_key_with_another_body_is_a_409(brand):
    member = MemberFactory(brand=brand)
    _once(brand, member, "api:1:k", "fp-1")
    with translation.override("en"), pytest.raises(idempotency.IdempotencyConflict) as caught:
        _once(brand, member, "api:1:k", "fp-2")
    response = exception_handler(caught.value, {})
    assert response.status_code == 409
    assert response.data == {
        "error": {
            "code": "idempotency_conflict",
            "message": "This idempotency key was already used for a different request.",
            "fields": {},
        }
    }
    with pytest.raises(idempotency.IdempotencyConflict):
        idempotency.replay(PointsEntry(request_hash="fp-1"), "fp-1", same=False)


def test_keys_of_two_brands_or_two_people_do_not_collide(brand, other_brand):
    ours, theirs = MemberFactory(brand=brand), MemberFactory(brand=other_brand)
    a = _once(brand, ours, "api:1:k", "fp-1")
    b = _once(other_brand, theirs, "api:1:k", "fp-2")
    assert not b.replayed and b.pk != a.pk
    one, two = StaffFactory(brand=brand), StaffFactory(brand=brand)
    k1 = idempotency.read_key(_request("same"), staff=one)
    k2 = idempotency.read_key(_request("same"), staff=two)
    assert k1 != k2
    assert not _once(brand, ours, k1, "fp-1").replayed
    assert not _once(brand, ours, k2, "fp-2").replayed


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_duplicates_racing_write_one_record(brand):
    member = MemberFactory(brand=brand)
    results, errors = race(8, lambda i: _once(brand, member, "api:1:race", "fp"))
    assert errors == []
    assert len({r.pk for r in results}) == 1
    assert sorted(r.replayed for r in results).count(False) == 1
    with brand_scope(brand):
        assert PointsEntry.objects.filter(source="api:1:race").count() == 1


def test_a_lock_runs_only_when_nothing_is_found_and_the_look_is_repeated(brand):
    member = MemberFactory(brand=brand)
    calls = []

    def once(key, fingerprint, twin=False):
        def find():
            calls.append("find")
            return idempotency.replayed(PointsEntry, brand, key, fingerprint, field="source")

        def lock():
            calls.append("lock")
            if twin:  # a twin that held the lock wrote the row meanwhile
                _entry(brand, member, key, fingerprint)

        def write():
            calls.append("write")
            return _entry(brand, member, key, fingerprint)

        with brand_scope(brand):
            return idempotency.once(find, write, lock=lock)

    first = once("api:1:a", "fp")
    assert calls == ["find", "lock", "find", "write"] and first.replayed is False
    calls.clear()
    assert once("api:1:a", "fp").replayed is True and calls == ["find"]
    calls.clear()
    twin = once("api:1:b", "fp", twin=True)
    assert calls == ["find", "lock", "find"] and twin.replayed is True


def test_an_integrity_error_of_another_constraint_propagates_and_writes_nothing(brand):
    member = MemberFactory(brand=brand)

    def write():
        _entry(brand, member, "api:1:k", "fp")
        raise IntegrityError("another constraint")

    with brand_scope(brand):
        with pytest.raises(IntegrityError, match="another constraint"):
            idempotency.once(
                lambda: idempotency.replayed(PointsEntry, brand, "api:1:k", "fp", field="source"), write
            )
        # The savepoint was rolled back: the caller's transaction is usable and holds no row.
        assert not PointsEntry.objects.filter(source="api:1:k").exists()
