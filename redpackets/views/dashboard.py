"""Red packets in the brand dashboard: the pool (balance, top-ups through the payment provider,
transaction records, the ledger check), sending packets, the packets sent, staff wallets and the
brand's limits. Brand admins see everything; store managers send and follow their packets.

Views are thin: forms validate and convert yuan to fen, services write, selectors read; lookups
by id are scoped to the brand (another brand's ids answer 404)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from redpackets import exports, selectors
from redpackets.dashboard_forms import (
    PACKET_STATUS_LABELS,
    PacketFilterForm,
    SendForm,
    SettingsForm,
    TopUpForm,
)
from redpackets.labels import transaction_label
from redpackets.models import Account, RedPacket, TopUp, Transaction, Withdrawal
from redpackets.services import funding, limits, packets, reconcile
from retail.events import Actor
from retail.idempotency import IdempotencyConflict, page_key, request_fingerprint
from retail.models import Staff
from retail.money import yuan
from retail.pages import (
    admin_required,
    apply_service_errors,
    call_service,
    form_status,
    manager_required,
    posted,
)
from retail.tenancy import brand_scope, get_for_brand_or_404

PAGE_SIZE = 50
RECORDS_PAGE = 20
TOPUPS_SHOWN = 8
WITHDRAWALS_SHOWN = 20


def _conflict(form) -> None:
    form.add_error(
        None,
        _("This form was already sent with other values. Check it and send it again."),
    )
    form.renew_key()


def _records_page(request, account: Account | None) -> dict:
    """One keyset page of an account's transaction records (?before=<id> for older ones)."""
    raw = request.GET.get("before", "")
    before = int(raw) if raw.isdigit() and len(raw) <= 18 else None
    rows = selectors.account_records(
        brand=request.brand, account=account, limit=RECORDS_PAGE + 1, before_id=before
    )
    more = len(rows) > RECORDS_PAGE
    rows = rows[:RECORDS_PAGE]
    return {
        "records": rows,
        "records_older": rows[-1].id if more else None,
        "records_paged": before is not None,
    }


def _yuan(fen) -> str:
    return yuan(int(fen or 0))


def _named(model, pk, name) -> str:
    """A row of the ledger check in words (its reference, greeting or kind), never its id."""
    row = model.objects.filter(pk=pk).first() if str(pk or "").isdigit() else None
    return name(row) if row is not None else _("(no longer there)")


def _withdrawal_status(value) -> str:
    if value in Withdrawal.Status.values:
        return str(Withdrawal.Status(value).label)
    return _("unknown") if not value else _("another status")


def problem_text(p: dict) -> str:
    """One finding of the ledger check, in words for brand finance."""
    check = p.get("check", "")
    if check == "transaction_balances":
        return _(
            "Ledger transaction %(what)s does not add up to zero (off by %(amount)s, %(legs)s legs)."
        ) % {
            "what": _named(Transaction, p.get("transaction_id"), transaction_label),
            "amount": _yuan(p.get("total")),
            "legs": p.get("legs"),
        }
    if check == "transaction_has_entries":
        return _("Ledger transaction %(what)s has no entries.") % {
            "what": _named(Transaction, p.get("transaction_id"), transaction_label)
        }
    if check == "balance_equals_entries":
        kind = Account.Kind(p["kind"]).label if p.get("kind") in Account.Kind.values else _("Account")
        who = _named(Account, p.get("pk"), lambda a: a.staff.name if a.staff_id else "")
        return _("%(account)s shows %(balance)s but its entries add up to %(entries)s.") % {
            "account": f"{kind} · {who}" if who else kind,
            "balance": _yuan(p.get("balance_fen")),
            "entries": _yuan(p.get("entries_fen")),
        }
    if check == "balances_sum_to_zero":
        return _("All balances together should be zero but are %(amount)s.") % {
            "amount": _yuan(p.get("total_fen"))
        }
    if check == "packet_account":
        return _("Red packet “%(what)s” holds %(balance)s but should hold %(expected)s.") % {
            "what": _named(RedPacket, p.get("packet_id"), lambda r: r.greeting),
            "balance": _yuan(p.get("balance_fen")),
            "expected": _yuan(p.get("expected")),
        }
    if check == "withdrawals_in_progress":
        return _("Withdrawals in progress add up to %(pending)s but their account holds %(account)s.") % {
            "pending": _yuan(p.get("pending_fen")),
            "account": _yuan(p.get("account_fen")),
        }
    if check == "topups_credited":
        return _(
            "Credited top-ups add up to %(topups)s but %(funding)s came in from the payment provider."
        ) % {
            "topups": _yuan(p.get("topups_fen")),
            "funding": _yuan(p.get("funding_fen")),
        }
    if check == "withdrawals_paid":
        return _("Paid withdrawals add up to %(paid)s but %(out)s went out through the payout provider.") % {
            "paid": _yuan(p.get("withdrawals_fen")),
            "out": _yuan(p.get("paid_out_fen")),
        }
    ref = _named(Withdrawal, p.get("withdrawal_id"), lambda w: w.reference)
    if check == "provider_unreachable":
        return _("Withdrawal %(ref)s could not be checked: the payout provider did not answer.") % {
            "ref": ref
        }
    if check == "provider_amount":
        return _("Withdrawal %(ref)s is %(ours)s here but %(theirs)s at the payout provider.") % {
            "ref": ref,
            "ours": _yuan(p.get("ours")),
            "theirs": _yuan(p.get("theirs")),
        }
    if check == "provider_status":
        return _("Withdrawal %(ref)s is “%(ours)s” here but “%(theirs)s” at the payout provider.") % {
            "ref": ref,
            "ours": _withdrawal_status(p.get("ours")),
            "theirs": _withdrawal_status(p.get("theirs")),
        }
    if check == "withdrawal_unresolved":
        return _(
            "Withdrawal %(ref)s is still in progress here, but the payout provider says “%(theirs)s”."
        ) % {
            "ref": ref,
            "theirs": _withdrawal_status(p.get("theirs")),
        }
    return _("Another finding of the ledger check; the technical details are in the server log.")


# --- the pool ----------------------------------------------------------------------------------------


def _pool_page(request, form: TopUpForm, status: int = 200):
    brand = request.brand
    overview = selectors.pool_overview(brand=brand)
    topped_up = overview["topped_up_fen"]
    parts = [
        ("pool", _("In the pool"), overview["pool_fen"]),
        ("packets", _("In unclaimed packets"), overview["in_packets_fen"]),
        ("wallets", _("In staff wallets"), overview["in_wallets_fen"]),
        ("withdrawing", _("Being withdrawn"), overview["withdrawing_fen"]),
        ("paid", _("Paid out to staff"), overview["paid_out_fen"]),
    ]
    where = [
        {"key": key, "label": label, "fen": fen, "pct": (fen * 100 / topped_up) if topped_up > 0 else 0}
        for key, label, fen in parts
    ]
    run = selectors.reconciliation_latest(brand=brand)
    ctx = {
        "nav": "redpackets",
        "sub": "pool",
        "form": form,
        "overview": overview,
        "where": where,
        "topups": selectors.topup_list(brand=brand, limit=TOPUPS_SHOWN),
        "run": run,
        "problems": [problem_text(p) for p in (run.problems if run else [])[:50]],
        **_records_page(request, selectors.pool_account(brand=brand)),
    }
    return render(request, "redpackets/dash/pool.html", ctx, status=status)


@admin_required
@require_http_methods(["GET", "POST"])
def pool(request):
    """The pool, and its top-up form: a valid top-up goes on to the payment provider's cashier."""
    form = TopUpForm(posted(request))
    if request.method == "POST" and form.is_valid():
        amount_fen = form.cleaned_data["amount"]
        try:
            topup = call_service(
                funding.topup_start,
                brand=request.brand,
                staff=request.staff,
                actor=Actor.from_request(request),
                amount_fen=amount_fen,
                key=page_key(request.staff, form.cleaned_data["key"]),
                fingerprint=request_fingerprint({"op": "topup", "amount_fen": amount_fen}),
            )
        except IdempotencyConflict:
            _conflict(form)
        except ValidationError as exc:
            apply_service_errors(form, exc, rename={"amount_fen": "amount", "key": "__all__"})
        else:
            if topup.replayed and topup.status != TopUp.Status.PENDING:
                messages.info(request, _("This top-up was already made; it was not started twice."))
                return redirect("dash-rp-pool")
            return redirect(topup.pay_url)
    return _pool_page(request, form, status=form_status(form))


@admin_required
@require_GET
def pool_export(request):
    brand = request.brand
    account = selectors.pool_account(brand=brand)
    day = timezone.localdate().isoformat()
    return exports.csv_response(
        selectors.account_records_all(brand=brand, account=account), f"pool-{brand.slug}-{day}.csv"
    )


@admin_required
@require_POST
def reconcile_run(request):
    """Run the ledger check now (it also runs every night)."""
    run = reconcile.reconcile(brand=request.brand)
    if run.ok:
        messages.success(request, _("The ledger check found nothing wrong."))
    else:
        messages.warning(
            request,
            _("The ledger check found %(n)s problem(s); the brand's admins have been told.")
            % {"n": len(run.problems)},
        )
    return redirect(reverse("dash-rp-pool") + "#reconciliation")


# --- sending -------------------------------------------------------------------------------------------


@manager_required
@require_http_methods(["GET", "POST"])
def send(request):
    brand, staff = request.brand, request.staff
    settings_row = limits.settings_get(brand=brand)
    form = SendForm(
        posted(request),
        people=selectors.send_candidates(brand=brand, staff=staff, limit=5000),
        stores=selectors.send_stores(brand=brand, staff=staff),
        default_hours=settings_row.default_expiry_hours,
    )
    if request.method == "POST" and form.is_valid():
        kwargs = form.service_kwargs()
        try:
            packet = call_service(
                packets.packet_send,
                brand=brand,
                sender=staff,
                actor=Actor.from_request(request),
                key=page_key(request.staff, form.cleaned_data["key"]),
                fingerprint=request_fingerprint({"op": "send", **kwargs}),
                **kwargs,
            )
        except IdempotencyConflict:
            _conflict(form)
        except ValidationError as exc:
            apply_service_errors(form, exc, rename=form.error_rename())
        else:
            if packet.replayed:
                messages.info(request, _("This red packet was already sent; it was not sent twice."))
            else:
                messages.success(
                    request, _("Red packet sent: %(amount)s.") % {"amount": _yuan(packet.total_fen)}
                )
            return redirect("dash-rp-packet", packet.pk)
    sent_today = selectors.sent_today_fen(brand=brand, staff=staff)
    ctx = {
        "nav": "redpackets",
        "sub": "send",
        "form": form,
        "pool_fen": selectors.pool_balance(brand=brand),
        "limits": settings_row,
        "sent_today_fen": sent_today,
        "left_today_fen": max(0, settings_row.daily_send_max_fen - sent_today),
    }
    return render(request, "redpackets/dash/send.html", ctx, status=form_status(form))


# --- packets -------------------------------------------------------------------------------------------


@manager_required
@require_GET
def packet_list(request):
    form = PacketFilterForm(request.GET or None)
    status = form.cleaned_data["status"] if form.is_bound and form.is_valid() else ""
    qs = selectors.packet_table(brand=request.brand, staff=request.staff, status=status)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    ctx = {
        "nav": "redpackets",
        "sub": "packets",
        "form": form,
        "status": status,
        "page": page,
        "status_labels": PACKET_STATUS_LABELS,
    }
    return render(request, "redpackets/dash/packets.html", ctx)


@manager_required
@require_GET
def packet_detail(request, packet_id: int):
    brand = request.brand
    packet = selectors.packet_get(brand=brand, staff=request.staff, packet_id=packet_id)
    recipients = selectors.packet_recipients(brand=brand, packet=packet)
    ctx = {
        "nav": "redpackets",
        "sub": "packets",
        "packet": packet,
        "claims": selectors.packet_claims(brand=brand, packet=packet),
        "recipients": recipients,
        "status_label": PACKET_STATUS_LABELS.get(packet.status, packet.status),
        "is_open": packet.status == RedPacket.Status.ACTIVE and packet.expires_at > timezone.now(),
    }
    return render(request, "redpackets/dash/packet.html", ctx)


# --- staff wallets -------------------------------------------------------------------------------------


@admin_required
@require_GET
def wallet_list(request):
    q = request.GET.get("q", "")[:64].strip()
    order = "name" if request.GET.get("order") == "name" else "balance"
    qs = selectors.staff_wallet_list(brand=request.brand, q=q, order=order)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    ctx = {
        "nav": "redpackets",
        "sub": "wallets",
        "page": page,
        "q": q,
        "order": order,
        "in_wallets_fen": selectors.pool_overview(brand=request.brand)["in_wallets_fen"],
    }
    return render(request, "redpackets/dash/wallets.html", ctx)


def _wallet_staff(request, staff_id: int) -> Staff:
    with brand_scope(request.brand):
        return get_for_brand_or_404(Staff, request.brand, pk=staff_id)


@admin_required
@require_GET
def wallet_detail(request, staff_id: int):
    brand = request.brand
    person = _wallet_staff(request, staff_id)
    overview = selectors.wallet_overview(brand=brand, staff=person)
    ctx = {
        "nav": "redpackets",
        "sub": "wallets",
        "person": person,
        "o": overview,
        "withdrawals": selectors.withdrawal_list(brand=brand, staff=person, limit=WITHDRAWALS_SHOWN),
        "withdrawing_fen": sum(w.amount_fen for w in overview["pending_withdrawals"]),
        **_records_page(request, overview["wallet"]),
    }
    return render(request, "redpackets/dash/wallet.html", ctx)


@admin_required
@require_GET
def wallet_export(request, staff_id: int):
    brand = request.brand
    person = _wallet_staff(request, staff_id)
    account = selectors.wallet_account(brand=brand, staff=person)
    name = slugify(person.employee_no or "") or str(person.pk)
    return exports.csv_response(
        selectors.account_records_all(brand=brand, account=account),
        f"wallet-{name}-{timezone.localdate()}.csv",
    )


# --- limits --------------------------------------------------------------------------------------------


@admin_required
@require_http_methods(["GET", "POST"])
def settings_page(request):
    brand = request.brand
    row = limits.settings_get(brand=brand)
    form = SettingsForm(posted(request), initial=SettingsForm.initial_from(row))
    if request.method == "POST" and form.is_valid():
        try:
            call_service(
                limits.settings_update,
                brand=brand,
                staff=request.staff,
                actor=Actor.from_request(request),
                data=form.data_for_service(),
            )
        except ValidationError as exc:
            apply_service_errors(form, exc, rename=SettingsForm.error_rename())
        else:
            messages.success(request, _("Limits saved."))
            return redirect("dash-rp-settings")
    ctx = {"nav": "redpackets", "sub": "settings", "form": form, "row": row}
    return render(request, "redpackets/dash/settings.html", ctx, status=form_status(form))
