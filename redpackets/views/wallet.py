"""The wallet in the staff mobile UI (/m/wallet/…): balance, packets to open and the opening
moment, records (来往记录) and their CSV, the payout account, withdrawals (confirmed by hand on a
second screen) and the automatic-withdrawal switch.

Views are thin: forms validate and turn yuan into fen, services write, selectors read. Every
money-moving form carries a one-time key; the service gets it as ``page:<staff id>:<key>``, so a
form submitted twice moves money once (the replay shows the first result)."""

from __future__ import annotations

import datetime
import zoneinfo

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from redpackets import exports, selectors
from redpackets.forms import (
    AutoWithdrawForm,
    BindForm,
    ClaimForm,
    WithdrawConfirmForm,
    WithdrawForm,
)
from redpackets.models import RedPacket, Withdrawal
from redpackets.services import accounts, limits, packets, withdrawals
from retail.events import Actor
from retail.form_keys import new_key
from retail.idempotency import IdempotencyConflict, page_key, request_fingerprint
from retail.money import yuan, yuan_input
from retail.pages import apply_service_errors, call_service, form_status, safe_next, staff_required

RECORDS_PAGE = 30
RECEIVED_ON_WALLET = 10


# --- helpers --------------------------------------------------------------------------------------


def staff_tz(request) -> zoneinfo.ZoneInfo:
    """The time zone of the (first) store the viewer works at; the brand default otherwise."""
    name = selectors.staff_timezone(brand=request.brand, staff=request.staff)
    try:
        return zoneinfo.ZoneInfo(name or settings.TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def _positive_int(raw) -> int | None:
    raw = str(raw or "")
    return int(raw) if raw.isdigit() and 0 < len(raw) < 19 and int(raw) > 0 else None


# --- the wallet -----------------------------------------------------------------------------------


@staff_required
@require_GET
def wallet(request):
    """钱包: balance, packets to open, withdrawals in progress, the automatic switch, recent packets."""
    brand, staff = request.brand, request.staff
    overview = selectors.wallet_overview(brand=brand, staff=staff)
    ctx = {
        "tab": "me",
        "o": overview,
        "received": selectors.packets_received(brand=brand, staff=staff, limit=RECEIVED_ON_WALLET),
        "auto_form_on": "0" if overview["auto_withdraw"] else "1",
    }
    return render(request, "redpackets/m/wallet.html", ctx)


@staff_required
@require_POST
def auto_withdraw(request):
    """Switch automatic withdrawal on (only after a first withdrawal by hand) or off."""
    form = AutoWithdrawForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose on or off."))
        return redirect("m-wallet")
    on = form.cleaned_data["on"] == "1"
    try:
        call_service(
            accounts.auto_withdraw_set,
            brand=request.brand,
            staff=request.staff,
            actor=Actor.from_request(request),
            on=on,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        if on:
            messages.success(
                request, _("Automatic withdrawal is on: red packets you open go straight to your account.")
            )
        else:
            messages.success(request, _("Automatic withdrawal is off: money stays in your wallet."))
    return redirect("m-wallet")


# --- opening a packet -----------------------------------------------------------------------------


def _packet_state(packet: RedPacket, mine: dict | None, recipient) -> str:
    if mine is not None:
        return "claimed"
    if recipient is None:
        return "not_for_you"
    if packet.status == RedPacket.Status.EXPIRED or packet.expires_at <= timezone.now():
        return "expired"
    if packet.status == RedPacket.Status.FINISHED:
        return "empty"
    return "closed"


@staff_required
@require_http_methods(["GET", "POST"])
def packet(request, packet_id: int):
    """The opening moment: a closed envelope with a 開 button; after claiming, the amount and who
    got how much. Works without JavaScript (the button posts a form, the reveal is CSS)."""
    brand, staff = request.brand, request.staff
    pkt = selectors.packet_get(brand=brand, staff=staff, packet_id=packet_id)  # 404 unless visible
    url = reverse("m-wallet-packet", args=[pkt.pk])
    status = 200
    form = None
    if request.method == "POST":
        form = ClaimForm(request.POST)
        if form.is_valid():
            try:
                call_service(
                    packets.packet_claim,
                    brand=brand,
                    staff=staff,
                    packet=pkt,
                    key=page_key(request.staff, form.cleaned_data["key"]),
                )
            except IdempotencyConflict:
                messages.error(request, _("This page was out of date. Please try again."))
                return redirect(url)
            except ValidationError:
                # Expired or all claimed meanwhile: the page says so.
                return redirect(url)
            return redirect(f"{url}?opened=1")
        status = 400
    claims = selectors.packet_claims(brand=brand, packet=pkt)
    mine = next((c for c in claims if c["staff_id"] == staff.pk), None)
    recipient = selectors.packet_recipient(brand=brand, packet=pkt, staff=staff)
    state = _packet_state(pkt, mine, recipient)
    ctx = {
        "tab": "me",
        "packet": pkt,
        "state": state,
        "mine": mine,
        "claims": claims if state in ("claimed", "empty", "expired") else [],
        "fresh": state == "claimed" and request.GET.get("opened") == "1",
        "key": new_key(),
        "form": form,
        "can_manage": request.staff.role in ("brand_admin", "store_manager"),
    }
    return render(request, "redpackets/m/packet.html", ctx, status=status)


# --- records --------------------------------------------------------------------------------------


def _month(at: datetime.datetime, tz) -> str:
    return timezone.localtime(at, tz).strftime("%Y-%m")


@staff_required
@require_GET
def records(request):
    """来往记录: every movement of the wallet, newest first, a page at a time (keyset: ``?before=``)."""
    brand, staff = request.brand, request.staff
    before = _positive_int(request.GET.get("before"))
    account = selectors.wallet_account(brand=brand, staff=staff)
    rows = selectors.account_records(brand=brand, account=account, limit=RECORDS_PAGE + 1, before_id=before)
    more = len(rows) > RECORDS_PAGE
    rows = rows[:RECORDS_PAGE]
    tz = staff_tz(request)
    last_month = str(request.GET.get("m", ""))[:7] if before else ""
    items = []
    for r in rows:
        month = _month(r.at, tz)
        items.append(
            {"r": r, "month": month if month != last_month else "", "at": timezone.localtime(r.at, tz)}
        )
        last_month = month
    ctx = {
        "tab": "me",
        "items": items,
        "next_before": rows[-1].id if more and rows else None,
        "last_month": last_month,
        "tz": tz,
    }
    if request.htmx:
        return render(request, "redpackets/m/_records_rows.html", ctx)
    return render(request, "redpackets/m/records.html", ctx)


@staff_required
@require_GET
def records_export(request):
    """The wallet's every movement as CSV (streamed)."""
    account = selectors.wallet_account(brand=request.brand, staff=request.staff)
    name = slugify(request.staff.employee_no or str(request.staff.pk)) or str(request.staff.pk)
    return exports.csv_response(
        selectors.account_records_all(brand=request.brand, account=account),
        f"wallet-{name}.csv",
        tz=staff_tz(request),
    )


# --- payout account -------------------------------------------------------------------------------


@staff_required
@require_http_methods(["GET", "POST"])
def account(request):
    """The bound payout account (masked), and the bind / rebind form."""
    brand, staff = request.brand, request.staff
    bound = accounts.payout_account_get(brand=brand, staff=staff)
    form = BindForm(request.POST if request.method == "POST" else None, initial={"real_name": staff.name})
    if request.method == "POST" and form.is_valid():
        try:
            # Not in a savepoint: a refused attempt is recorded on purpose.
            accounts.payout_account_bind(
                brand=brand, staff=staff, actor=Actor.from_request(request), **form.cleaned_data
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Your payout account is bound and verified."))
            return redirect(safe_next(request, reverse("m-wallet-account")))
    ctx = {
        "tab": "me",
        "bound": bound,
        "form": form,
        "next": safe_next(request, ""),
        "open_form": bound is None or form.is_bound,
    }
    return render(request, "redpackets/m/account.html", ctx, status=form_status(form))


@staff_required
@require_POST
def account_unbind(request):
    gone = call_service(
        accounts.payout_account_unbind,
        brand=request.brand,
        staff=request.staff,
        actor=Actor.from_request(request),
    )
    if gone is not None:
        messages.success(request, _("Your payout account is unbound."))
    return redirect("m-wallet-account")


# --- withdrawals ----------------------------------------------------------------------------------


def _withdraw_room(request, balance_fen: int) -> dict:
    rules = limits.settings_get(brand=request.brand)
    used = selectors.withdrawn_today(brand=request.brand, staff=request.staff)
    left_fen = max(rules.withdraw_daily_max_fen - used["fen"], 0)
    left_count = max(rules.withdraw_daily_count - used["count"], 0)
    return {
        "min_fen": rules.withdraw_min_fen,
        "daily_max_fen": rules.withdraw_daily_max_fen,
        "left_fen": left_fen,
        "left_count": left_count,
        "all_fen": min(balance_fen, left_fen) if left_count else 0,
    }


def _check_amount(form, amount: int, balance: int, room: dict) -> None:
    """The service's own checks, run before the confirmation screen so it never shows a doomed amount."""
    if room["left_count"] <= 0:
        form.add_error(None, _("You have reached today's number of withdrawals. Try again tomorrow."))
    elif amount < room["min_fen"]:
        form.add_error("amount", _("The smallest withdrawal is %(min)s.") % {"min": yuan(room["min_fen"])})
    elif amount > balance:
        form.add_error("amount", _("Your wallet holds only %(balance)s.") % {"balance": yuan(balance)})
    elif amount > room["left_fen"]:
        form.add_error(
            "amount", _("You can withdraw %(left)s more today.") % {"left": yuan(room["left_fen"])}
        )


@staff_required
@require_http_methods(["GET", "POST"])
def withdraw(request):
    """Withdraw in two steps: the amount, then a confirmation screen naming the account."""
    brand, staff = request.brand, request.staff
    bound = accounts.payout_account_get(brand=brand, staff=staff)
    if bound is None:
        messages.info(request, _("Bind a payout account first; then you can withdraw to it."))
        return redirect(f"{reverse('m-wallet-account')}?next={reverse('m-wallet-withdraw')}")
    wallet_acc = selectors.wallet_account(brand=brand, staff=staff)
    balance = wallet_acc.balance_fen if wallet_acc else 0
    room = _withdraw_room(request, balance)
    ctx = {"tab": "me", "bound": bound, "balance_fen": balance, "room": room}
    form = WithdrawForm(None)
    if request.method == "POST" and request.POST.get("step") == "confirm":
        confirm = WithdrawConfirmForm(request.POST)
        if confirm.is_valid():
            amount = confirm.cleaned_data["amount_fen"]
            try:
                w = call_service(
                    withdrawals.withdrawal_request,
                    brand=brand,
                    staff=staff,
                    amount_fen=amount,
                    key=page_key(request.staff, confirm.cleaned_data["key"]),
                    fingerprint=request_fingerprint({"op": "withdraw", "amount_fen": amount}),
                )
            except ValidationError as exc:
                # Refused after all (the balance or limits changed meanwhile): back to the amount.
                form = WithdrawForm({"amount": yuan_input(amount)})
                form.is_valid()
                apply_service_errors(form, exc, rename={"amount_fen": "amount"})
            else:
                return redirect("m-wallet-withdrawal", w.pk)
        else:
            form = WithdrawForm(request.POST)
            form.is_valid()
            form.add_error(None, _("Please enter the amount again."))
        return render(request, "redpackets/m/withdraw.html", {**ctx, "form": form}, status=400)
    if request.method == "POST":
        form = WithdrawForm(request.POST)
        if form.is_valid():
            amount = room["all_fen"] if form.cleaned_data.get("all") else form.cleaned_data["amount"]
            _check_amount(form, amount, balance, room)
            if not form.errors:
                return render(
                    request,
                    "redpackets/m/withdraw_confirm.html",
                    {**ctx, "amount_fen": amount, "key": new_key()},
                )
    return render(request, "redpackets/m/withdraw.html", {**ctx, "form": form}, status=form_status(form))


@staff_required
@require_GET
def withdrawal(request, withdrawal_id: int):
    """One withdrawal's status; the page asks again every 3 seconds while it is being paid."""
    w = selectors.withdrawal_get(brand=request.brand, staff=request.staff, withdrawal_id=withdrawal_id)
    ctx = {"tab": "me", "w": w, "pending": w.status == Withdrawal.Status.PENDING}
    if request.htmx:
        return render(request, "redpackets/m/_withdrawal_status.html", ctx)
    return render(request, "redpackets/m/withdrawal.html", ctx)
