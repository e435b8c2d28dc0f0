"""Sending red packets from the phone (/m/redpackets/…), for store managers and brand admins: the
packets sent, the send form, and one packet's status. Guides get 403."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from redpackets import selectors
from redpackets.forms import SendForm
from redpackets.models import RedPacket
from redpackets.services import limits, packets
from retail.events import Actor
from retail.form_keys import new_key
from retail.idempotency import IdempotencyConflict, page_key, request_fingerprint
from retail.pages import apply_service_errors, call_service, form_status, manager_required

SENT_PAGE = 30


def _page_number(raw) -> int:
    raw = str(raw or "")
    return min(int(raw), 10_000) if raw.isdigit() and 0 < len(raw) < 6 and int(raw) > 0 else 1


@manager_required
@require_GET
def sent(request):
    """Packets the manager sent (and their stores'; brand admins: every packet), newest first."""
    page = _page_number(request.GET.get("page"))
    rows = selectors.packet_list(
        brand=request.brand, staff=request.staff, limit=SENT_PAGE + 1, offset=(page - 1) * SENT_PAGE
    )
    ctx = {
        "tab": "home",
        "packets": rows[:SENT_PAGE],
        "page": page,
        "has_next": len(rows) > SENT_PAGE,
        "pool_fen": selectors.pool_balance(brand=request.brand),
    }
    return render(request, "redpackets/m/sent.html", ctx)


@manager_required
@require_http_methods(["GET", "POST"])
def send(request):
    """Send a red packet from the pool: fixed or lucky; to one person, a store or chosen people."""
    brand, staff = request.brand, request.staff
    rules = limits.settings_get(brand=brand)
    people = selectors.send_candidates(brand=brand, staff=staff)
    stores = selectors.send_stores(brand=brand, staff=staff)
    initial = {"expires_in_hours": rules.default_expiry_hours, "key": new_key()}
    if len(stores) == 1:
        initial["store"] = stores[0].pk
    form = SendForm(
        request.POST if request.method == "POST" else None, people=people, stores=stores, initial=initial
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
            # The same form, changed after it was sent: a new key makes it a new packet.
            data = request.POST.copy()
            data["key"] = new_key()
            form = SendForm(data, people=people, stores=stores)
            form.is_valid()
            form.add_error(
                None, _("This form was already sent with other details. Check them and send again.")
            )
        except ValidationError as exc:
            apply_service_errors(form, exc, rename=form.error_fields())
        else:
            if not packet.replayed:
                messages.success(request, _("Red packet sent."))
            return redirect("m-rp-packet", packet.pk)
    ctx = {
        "tab": "home",
        "form": form,
        "rules": rules,
        "pool_fen": selectors.pool_balance(brand=brand),
        "sent_today_fen": selectors.sent_today_fen(brand=brand, staff=staff),
        "people_count": len(people),
    }
    ctx["send_left_fen"] = max(rules.daily_send_max_fen - ctx["sent_today_fen"], 0)
    return render(request, "redpackets/m/send.html", ctx, status=form_status(form))


@manager_required
@require_GET
def packet(request, packet_id: int):
    """One packet's status: claimed x/y, claimed and remaining amounts, who got what, recipients."""
    brand = request.brand
    pkt = selectors.packet_get(brand=brand, staff=request.staff, packet_id=packet_id)
    claims = selectors.packet_claims(brand=brand, packet=pkt)
    recipients = selectors.packet_recipients(brand=brand, packet=pkt)
    ctx = {
        "tab": "home",
        "packet": pkt,
        "claims": claims,
        "recipients": recipients,
        "waiting": sum(1 for r in recipients if not r["claimed"]),
        "progress": round(100 * pkt.claimed_count / pkt.shares) if pkt.shares else 0,
        "is_open": pkt.status == RedPacket.Status.ACTIVE,
    }
    return render(request, "redpackets/m/rp_packet.html", ctx)
