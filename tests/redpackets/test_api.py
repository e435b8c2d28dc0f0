"""Red packet REST API: pool and top-ups, sending and claiming, the wallet, payout account and
withdrawals, staff wallets for brand finance; roles, another brand's ids, bad input, replays."""

import datetime
import json

import pytest
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from redpackets.models import Account, RedPacket, TopUp, Withdrawal
from retail import payments
from retail.tenancy import brand_scope
from tests.factories import StaffFactory
from tests.helpers.api import api_error, send_json
from tests.helpers.auth import login_as
from tests.helpers.packets import balance, bind, claim, fill_wallet, new_account_no, send

pytestmark = pytest.mark.django_db
K = Account.Kind


# --- pool and top-ups ----------------------------------------------------------------------------------


def test_pool_by_role(client, brand, funded, brand_admin, store_manager, guide):
    r = login_as(client, brand_admin).get("/api/v1/redpackets/pool/")
    assert (
        r.status_code == 200 and r.json()["pool_fen"] == 1_000_000 and r.json()["topped_up_fen"] == 1_000_000
    )
    r = login_as(client, store_manager).get("/api/v1/redpackets/pool/")
    assert r.json() == {"pool_fen": 1_000_000}
    api_error(login_as(client, guide).get("/api/v1/redpackets/pool/"), 403)
    client.logout()
    api_error(client.get("/api/v1/redpackets/pool/"), 403)


def test_top_up_through_the_provider(client, brand, brand_admin, guide):
    login_as(client, brand_admin)
    api_error(
        send_json(client, "/api/v1/redpackets/pool/top-ups/", {"amount_fen": 50_000}, commit=True), 400
    )  # no key
    for bad in ({"amount_fen": 0}, {"amount_fen": "lots"}, {"amount_fen": 10**12}, {}, "{nope"):
        api_error(send_json(client, "/api/v1/redpackets/pool/top-ups/", bad, key="bad", commit=True), 400)
    r = send_json(client, "/api/v1/redpackets/pool/top-ups/", {"amount_fen": 50_000}, key="t1", commit=True)
    assert r.status_code == 201, r.content
    topup = r.json()
    assert topup["status"] == "pending" and topup["pay_url"].startswith("/pay/sim/")
    again = send_json(
        client, "/api/v1/redpackets/pool/top-ups/", {"amount_fen": 50_000}, key="t1", commit=True
    )
    assert (
        again.status_code == 200
        and again["Idempotent-Replayed"] == "true"
        and again.json()["id"] == topup["id"]
    )
    api_error(
        send_json(client, "/api/v1/redpackets/pool/top-ups/", {"amount_fen": 60_000}, key="t1", commit=True),
        409,
        "idempotency_conflict",
    )
    assert balance(brand, K.POOL) == 0  # nothing until the provider says paid
    # The admin pays on the provider's (simulated) cashier page, with the notice sent twice.
    assert client.get(topup["pay_url"]).status_code == 200
    assert client.post(topup["pay_url"], {"action": "twice"}).status_code == 302
    assert balance(brand, K.POOL) == 50_000
    assert client.get(f"/api/v1/redpackets/pool/top-ups/{topup['id']}/").json()["status"] == "succeeded"
    records = client.get("/api/v1/redpackets/pool/records/").json()
    assert [(r["kind"], r["amount_fen"], r["balance_after_fen"]) for r in records["results"]] == [
        ("topup", 50_000, 50_000)
    ]
    api_error(
        send_json(
            login_as(client, guide),
            "/api/v1/redpackets/pool/top-ups/",
            {"amount_fen": 1},
            key="g",
            commit=True,
        ),
        403,
    )


def test_top_up_notice_held_back_is_found_by_the_poll(client, brand, brand_admin):
    from redpackets.services import funding

    login_as(client, brand_admin)
    topup = send_json(
        client, "/api/v1/redpackets/pool/top-ups/", {"amount_fen": 8_800}, key="t", commit=True
    ).json()
    client.post(topup["pay_url"], {"action": "late"})
    assert balance(brand, K.POOL) == 0
    with brand_scope(brand):
        TopUp.objects.filter(pk=topup["id"]).update(created_at=timezone.now() - datetime.timedelta(minutes=5))
    assert funding.topups_poll(brand=brand) == 1
    assert funding.topups_poll(brand=brand) == 0
    assert balance(brand, K.POOL) == 8_800


def test_top_up_notice_for_another_brand_or_amount_is_refused(client, brand, other_brand, brand_admin):
    login_as(client, brand_admin)
    topup = send_json(
        client, "/api/v1/redpackets/pool/top-ups/", {"amount_fen": 8_800}, key="t", commit=True
    ).json()
    sim = payments.provider("sim")
    sim.settle(topup["reference"], "succeeded")
    body, sig = sim.signed_notice(topup["reference"])
    r = client.post(
        f"/pay/notify/{other_brand.slug}/sim/", body, content_type="application/json", HTTP_X_SIGNATURE=sig
    )
    assert r.status_code == 400
    tampered = body.replace(b"8800", b"88000")
    r = client.post(
        f"/pay/notify/{brand.slug}/sim/",
        tampered,
        content_type="application/json",
        HTTP_X_SIGNATURE=sim.sign(tampered),
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "amount_mismatch"
    assert balance(brand, K.POOL) == 0
    r = client.post(
        f"/pay/notify/{brand.slug}/sim/", body, content_type="application/json", HTTP_X_SIGNATURE=sig
    )
    assert r.status_code == 200 and balance(brand, K.POOL) == 8_800


# --- packets ----------------------------------------------------------------------------------------------


def test_send_and_status(client, brand, funded, brand_admin, guide, other_admin):
    login_as(client, brand_admin)
    body = {
        "kind": "lucky",
        "audience": "person",
        "staff_ids": [guide.pk],
        "total_fen": 888,
        "greeting": "加油",
    }
    r = send_json(client, "/api/v1/redpackets/packets/", body, key="p1", commit=True)
    assert r.status_code == 201, r.content
    packet = r.json()
    assert packet["total_fen"] == 888 and packet["shares"] == 1 and packet["claims"] == []
    assert packet["sender"] == {"id": brand_admin.pk, "name": brand_admin.name}
    assert send_json(client, "/api/v1/redpackets/packets/", body, key="p1", commit=True).status_code == 200
    api_error(
        send_json(client, "/api/v1/redpackets/packets/", {**body, "total_fen": 999}, key="p1", commit=True),
        409,
    )
    for bad in (
        {**body, "kind": "huge"},
        {**body, "total_fen": "8.88"},
        {**body, "total_fen": None},
        {**body, "staff_ids": "1,2"},
        {**body, "staff_ids": [other_admin.pk]},
        {**body, "staff_ids": []},
        {**body, "kind": "fixed"},
        {**body, "greeting": "x" * 61},
        {**body, "expires_in_hours": 10_000},
        [1, 2],
        "nonsense",
    ):
        api_error(
            send_json(client, "/api/v1/redpackets/packets/", bad, key=f"bad-{bad!s:.40}", commit=True), 400
        )
    with brand_scope(brand):
        assert RedPacket.objects.count() == 1
    assert client.get(f"/api/v1/redpackets/packets/{packet['id']}/").json()["status"] == "active"
    listed = client.get("/api/v1/redpackets/packets/").json()
    assert [p["id"] for p in listed] == [packet["id"]]


def test_claim_over_the_api(client, brand, funded, brand_admin, guides, store_manager):
    p = send(brand, brand_admin, guides[:2], kind="lucky", total_fen=1_000)
    login_as(client, guides[0])
    url = f"/api/v1/redpackets/packets/{p.pk}/claim/"
    api_error(send_json(client, url, {}, commit=True), 400)  # no key
    r = send_json(client, url, {}, key="c1", commit=True)
    assert r.status_code == 201, r.content
    first = r.json()
    assert 1 <= first["amount_fen"] <= 999 and not first["already_claimed"]
    assert (
        first["packet"]["claimed_count"] == 1
        and first["packet"]["remaining_fen"] == 1_000 - first["amount_fen"]
    )
    claims = client.get(f"/api/v1/redpackets/packets/{p.pk}/").json()["claims"]
    assert [c["name"] for c in claims] == [guides[0].name]
    again = send_json(client, url, {}, key="c2", commit=True)
    assert (
        again.status_code == 200
        and again.json()["already_claimed"]
        and again.json()["amount_fen"] == first["amount_fen"]
    )
    assert balance(brand, guides[0]) == first["amount_fen"]
    # Not for them: as if it did not exist.
    api_error(send_json(login_as(client, guides[2]), url, {}, key="c3", commit=True), 404)
    # The last share; then the packet is finished and the list shows the best luck.
    r = send_json(login_as(client, guides[1]), url, {}, key="c4", commit=True)
    assert r.json()["packet"]["status"] == "finished"
    claims = client.get(f"/api/v1/redpackets/packets/{p.pk}/").json()["claims"]
    assert sum(c["amount_fen"] for c in claims) == 1_000 and sum(c["best"] for c in claims) == 1


def test_claim_refusals(client, brand, funded, brand_admin, guides):
    p = send(brand, brand_admin, guides[:2], amount_each_fen=100, shares=1)
    claim(brand, guides[0], p)
    url = f"/api/v1/redpackets/packets/{p.pk}/claim/"
    api_error(send_json(login_as(client, guides[1]), url, {}, key="late", commit=True), 400, "packet_empty")
    q = send(brand, brand_admin, guides[:2], amount_each_fen=100)
    with brand_scope(brand):
        RedPacket.objects.filter(pk=q.pk).update(expires_at=timezone.now() - datetime.timedelta(minutes=1))
    api_error(
        send_json(client, f"/api/v1/redpackets/packets/{q.pk}/claim/", {}, key="exp", commit=True),
        400,
        "packet_expired",
    )
    api_error(send_json(client, "/api/v1/redpackets/packets/999999/claim/", {}, key="none", commit=True), 404)


def test_another_brands_ids_are_not_found(
    client, brand, other_brand, funded, brand_admin, guide, other_admin
):
    p = send(brand, brand_admin, [guide], amount_each_fen=100)
    fill_wallet(brand, brand_admin, guide, 500)
    bind(brand, guide)
    with TestCase.captureOnCommitCallbacks(execute=True):
        from redpackets.services import withdrawals

        w = withdrawals.withdrawal_request(brand=brand, staff=guide, amount_fen=200, key="k", fingerprint="f")
    login_as(client, other_admin)
    for url in (
        f"/api/v1/redpackets/packets/{p.pk}/",
        f"/api/v1/redpackets/wallets/{guide.pk}/",
        f"/api/v1/redpackets/wallets/{guide.pk}/records/",
        f"/api/v1/wallet/withdrawals/{w.pk}/",
    ):
        api_error(client.get(url), 404)
    api_error(send_json(client, f"/api/v1/redpackets/packets/{p.pk}/claim/", {}, key="x", commit=True), 404)
    assert balance(brand, guide) == 300


# --- wallet, payout account, withdrawals ---------------------------------------------------------


def test_wallet_records_and_export(client, brand, funded, brand_admin, guide):
    for i in range(5):
        fill_wallet(brand, brand_admin, guide, 100 + i)
    login_as(client, guide)
    w = client.get("/api/v1/wallet/").json()
    assert w["balance_fen"] == 510 and w["received_fen"] == 510 and w["payout_account"] is None
    page = client.get("/api/v1/wallet/records/?limit=3").json()
    assert [r["amount_fen"] for r in page["results"]] == [104, 103, 102]
    assert page["results"][0]["title"] and page["results"][0]["balance_after_fen"] == 510
    rest = client.get(f"/api/v1/wallet/records/?limit=3&before={page['next_before']}").json()
    assert [r["amount_fen"] for r in rest["results"]] == [101, 100] and rest["next_before"] is None
    api_error(client.get("/api/v1/wallet/records/?limit=0"), 400)
    api_error(client.get("/api/v1/wallet/records/?before=abc"), 400)
    csv = client.get("/api/v1/wallet/records/export/")
    assert csv["Content-Type"].startswith("text/csv")
    lines = b"".join(csv.streaming_content).decode("utf-8-sig").strip().splitlines()
    assert len(lines) == 6 and lines[1].endswith(",1.04,5.10," + lines[1].rsplit(",", 1)[1])


def test_wallet_records_query_count_is_constant(client, brand, funded, brand_admin, guide, store):
    login_as(client, guide)
    fill_wallet(brand, brand_admin, guide, 100)
    with CaptureQueriesContext(connection) as few:
        client.get("/api/v1/wallet/records/")
    others = [StaffFactory(brand=brand, stores=[store]) for _ in range(3)]
    for i in range(10):
        p = send(brand, brand_admin, [guide, *others], kind="lucky", total_fen=1_000 + i)
        claim(brand, guide, p)
    with CaptureQueriesContext(connection) as many:
        r = client.get("/api/v1/wallet/records/")
    assert len(r.json()["results"]) == 11
    assert len(many) == len(few)


def test_payout_account_and_withdrawal(client, brand, funded, brand_admin, guide, payout_sim):
    fill_wallet(brand, brand_admin, guide, 10_000)
    login_as(client, guide)
    api_error(client.get("/api/v1/wallet/payout-account/"), 404)
    api_error(
        send_json(client, "/api/v1/wallet/withdrawals/", {"amount_fen": 1_000}, key="w0", commit=True),
        400,
        "no_payout_account",
    )
    no = new_account_no()
    api_error(
        send_json(
            client,
            "/api/v1/wallet/payout-account/",
            {"account_no": no, "real_name": "别人"},
            method="put",
            commit=True,
        ),
        400,
        "name_mismatch",
    )
    api_error(
        send_json(
            client,
            "/api/v1/wallet/payout-account/",
            {"account_no": "abc", "real_name": guide.name},
            method="put",
            commit=True,
        ),
        400,
    )
    r = send_json(
        client,
        "/api/v1/wallet/payout-account/",
        {"account_no": no, "real_name": guide.name},
        method="put",
        commit=True,
    )
    assert r.status_code == 200 and r.json()["account"] == f"{no[:3]}****{no[-4:]}"
    r = send_json(client, "/api/v1/wallet/withdrawals/", {"amount_fen": 3_000}, key="w1", commit=True)
    assert r.status_code == 201, r.content
    # Handed to the provider once the request commits; the status says where it is.
    assert r.json()["status"] == "pending" and r.json()["account"].endswith(no[-4:])
    again = send_json(client, "/api/v1/wallet/withdrawals/", {"amount_fen": 3_000}, key="w1", commit=True)
    assert again.status_code == 200 and again.json()["id"] == r.json()["id"]
    api_error(
        send_json(client, "/api/v1/wallet/withdrawals/", {"amount_fen": 3_001}, key="w1", commit=True), 409
    )
    api_error(
        send_json(client, "/api/v1/wallet/withdrawals/", {"amount_fen": 70_000}, key="w2", commit=True), 400
    )
    api_error(
        send_json(client, "/api/v1/wallet/withdrawals/", {"amount_fen": "all"}, key="w3", commit=True), 400
    )
    assert client.get(f"/api/v1/wallet/withdrawals/{r.json()['id']}/").json()["status"] == "succeeded"
    assert [w["id"] for w in client.get("/api/v1/wallet/withdrawals/").json()] == [r.json()["id"]]
    # Automatic withdrawal opens after that first one by hand.
    r = send_json(client, "/api/v1/wallet/", {"auto_withdraw": True}, method="patch", commit=True)
    assert r.status_code == 200 and r.json()["auto_withdraw"] is True
    assert (
        send_json(client, "/api/v1/wallet/payout-account/", {}, method="delete", commit=True).status_code
        == 204
    )
    assert client.get("/api/v1/wallet/").json()["auto_withdraw"] is False
    assert balance(brand, guide) == 7_000
    with brand_scope(brand):
        assert Withdrawal.objects.count() == 1


def test_auto_withdraw_refused_before_a_first_one_by_hand(client, brand, guide):
    login_as(client, guide)
    api_error(
        send_json(client, "/api/v1/wallet/", {"auto_withdraw": True}, method="patch", commit=True),
        400,
        "first_withdrawal_by_hand",
    )
    api_error(
        send_json(client, "/api/v1/wallet/", {"auto_withdraw": "maybe"}, method="patch", commit=True), 400
    )


def test_staff_wallets_for_brand_finance(client, brand, funded, brand_admin, store_manager, guide):
    fill_wallet(brand, brand_admin, guide, 1_234)
    r = login_as(client, brand_admin).get(f"/api/v1/redpackets/wallets/{guide.pk}/")
    assert r.status_code == 200 and r.json()["balance_fen"] == 1_234
    assert (
        client.get(f"/api/v1/redpackets/wallets/{guide.pk}/records/").json()["results"][0]["amount_fen"]
        == 1_234
    )
    api_error(login_as(client, store_manager).get(f"/api/v1/redpackets/wallets/{guide.pk}/"), 403)
    api_error(login_as(client, guide).get(f"/api/v1/redpackets/wallets/{guide.pk}/"), 403)


def test_pool_export_for_admins_only(client, brand, funded, brand_admin, guide):
    send(brand, brand_admin, [guide], amount_each_fen=100, greeting="=cmd|' /C calc'!A0")
    r = login_as(client, brand_admin).get("/api/v1/redpackets/pool/records/export/")
    text = b"".join(r.streaming_content).decode("utf-8-sig")
    assert text.count("\n") == 3
    assert ",=cmd" not in text  # a formula never reaches a spreadsheet as a formula
    api_error(login_as(client, guide).get("/api/v1/redpackets/pool/records/export/"), 403)


def test_schema_lists_red_packet_endpoints(as_admin):
    paths = json.loads(as_admin.get("/api/v1/schema/?format=json").content)["paths"]
    for p in (
        "/api/v1/redpackets/pool/",
        "/api/v1/redpackets/pool/top-ups/",
        "/api/v1/redpackets/packets/",
        "/api/v1/redpackets/packets/{id}/claim/",
        "/api/v1/wallet/",
        "/api/v1/wallet/records/",
        "/api/v1/wallet/withdrawals/",
        "/api/v1/wallet/withdrawals/{id}/",
        "/api/v1/wallet/payout-account/",
        "/api/v1/redpackets/wallets/{staff_id}/",
    ):
        assert p in paths, p
    assert "Idempotency-Key" in json.dumps(paths["/api/v1/redpackets/packets/"]["post"])
