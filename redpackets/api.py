"""REST API of red packets: the brand's pool and top-ups, sending and claiming packets, the
caller's wallet, payout account and withdrawals, and (for brand admins) any staff wallet.

Every request that moves money carries an ``Idempotency-Key`` header: a replay returns the first
result (with ``Idempotent-Replayed: true``), a different request under the same key gets 409."""

from __future__ import annotations

from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response

from redpackets import exports, selectors
from redpackets.models import PayoutAccount, RedPacket, TopUp, Withdrawal
from redpackets.services import accounts, funding, packets, withdrawals
from retail import api_fields, idempotency, roles
from retail.api_base import BrandAPIView
from retail.events import Actor
from retail.models import Staff
from retail.pagination import page_number
from retail.schema import IDEMPOTENCY_HEADER
from retail.tenancy import brand_scope, get_for_brand_or_404


def _require_admin(view) -> None:
    roles.require(view.brand, view.staff, view.staff.is_brand_admin)


def _require_manager(view) -> None:
    roles.require(view.brand, view.staff, roles.can_manage_staff(view.staff))


# --- serializers ------------------------------------------------------------------------------------


class RecordSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    at = api_fields.DateTimeField()
    amount_fen = serializers.IntegerField(help_text="Signed: money in is positive, money out negative.")
    balance_after_fen = serializers.IntegerField()
    kind = serializers.CharField()
    kind_label = serializers.CharField()
    title = serializers.CharField(help_text="Where the money came from or went.")
    detail = serializers.CharField()
    packet_id = serializers.IntegerField(allow_null=True)
    withdrawal_id = serializers.IntegerField(allow_null=True)
    topup_id = serializers.IntegerField(allow_null=True)
    transaction_id = serializers.IntegerField()
    statement_id = serializers.IntegerField(
        allow_null=True, help_text="A commission payment: the guide's statement it paid."
    )


class RecordPageSerializer(serializers.Serializer):
    results = RecordSerializer(many=True)
    next_before = serializers.IntegerField(allow_null=True, help_text="Pass as ?before= for the next page.")


class RecordQuerySerializer(serializers.Serializer):
    before = api_fields.IdField(required=False)
    limit = serializers.IntegerField(min_value=1, max_value=200, default=50)


class PoolSerializer(serializers.Serializer):
    pool_fen = serializers.IntegerField()
    in_packets_fen = serializers.IntegerField(required=False)
    in_wallets_fen = serializers.IntegerField(required=False)
    withdrawing_fen = serializers.IntegerField(required=False)
    paid_out_fen = serializers.IntegerField(required=False)
    topped_up_fen = serializers.IntegerField(required=False)
    pending_topups = serializers.IntegerField(required=False)


class TopUpSerializer(serializers.ModelSerializer):
    class Meta:
        model = TopUp
        fields = [
            "id",
            "amount_fen",
            "status",
            "provider",
            "reference",
            "pay_url",
            "created_at",
            "completed_at",
        ]
        read_only_fields = fields


class TopUpCreateSerializer(serializers.Serializer):
    amount_fen = serializers.IntegerField(min_value=1, max_value=funding.TOPUP_MAX_FEN)


class ClaimSerializer(serializers.Serializer):
    staff_id = serializers.IntegerField()
    name = serializers.CharField()
    amount_fen = serializers.IntegerField()
    claimed_at = api_fields.DateTimeField()
    best = serializers.BooleanField(help_text="The largest share of a finished lucky packet.")


class PacketSerializer(serializers.ModelSerializer):
    sender = serializers.SerializerMethodField()
    store_id = serializers.IntegerField(read_only=True)
    remaining_fen = serializers.IntegerField(read_only=True)

    class Meta:
        model = RedPacket
        fields = [
            "id",
            "kind",
            "audience",
            "source",
            "sender",
            "store_id",
            "greeting",
            "total_fen",
            "shares",
            "claimed_count",
            "claimed_fen",
            "refunded_fen",
            "remaining_fen",
            "status",
            "created_at",
            "expires_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_sender(self, obj) -> dict | None:
        return {"id": obj.sender_id, "name": obj.sender.name} if obj.sender_id else None


class PacketDetailSerializer(PacketSerializer):
    claims = serializers.SerializerMethodField()

    class Meta(PacketSerializer.Meta):
        fields = [*PacketSerializer.Meta.fields, "claims"]
        read_only_fields = fields

    @extend_schema_field(ClaimSerializer(many=True))
    def get_claims(self, obj) -> list[dict]:
        return ClaimSerializer(selectors.packet_claims(brand=obj.brand, packet=obj), many=True).data


class PacketSendSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=RedPacket.Kind.choices)
    audience = serializers.ChoiceField(choices=RedPacket.Audience.choices)
    staff_ids = serializers.ListField(
        child=api_fields.IdField(),
        required=False,
        max_length=10_000,
        help_text="person and group packets: who may claim",
    )
    store_id = api_fields.IdField(required=False, help_text="store packets: the store")
    amount_each_fen = serializers.IntegerField(
        min_value=1, max_value=10**10, required=False, help_text="fixed packets"
    )
    total_fen = serializers.IntegerField(
        min_value=1, max_value=10**10, required=False, help_text="lucky packets"
    )
    shares = serializers.IntegerField(
        min_value=1,
        max_value=10_000,
        required=False,
        help_text="default: one per recipient; fewer = first come, first served",
    )
    greeting = serializers.CharField(max_length=60, allow_blank=True, default="")
    expires_in_hours = serializers.IntegerField(min_value=1, max_value=720, required=False)

    def validate(self, data):
        if data["kind"] == RedPacket.Kind.FIXED and "amount_each_fen" not in data:
            raise serializers.ValidationError({"amount_each_fen": [_("Required for a fixed packet.")]})
        if data["kind"] == RedPacket.Kind.LUCKY and "total_fen" not in data:
            raise serializers.ValidationError({"total_fen": [_("Required for a lucky packet.")]})
        return data


class ShareSerializer(serializers.Serializer):
    packet_id = serializers.IntegerField()
    amount_fen = serializers.IntegerField()
    claimed_at = api_fields.DateTimeField()
    already_claimed = serializers.BooleanField(help_text="True when this person had claimed before.")
    packet = PacketSerializer()


class PayoutAccountSerializer(serializers.ModelSerializer):
    account = serializers.CharField(source="masked", read_only=True)

    class Meta:
        model = PayoutAccount
        fields = ["id", "provider", "account", "real_name", "verified_at", "bound_at"]
        read_only_fields = fields


class PayoutAccountBindSerializer(serializers.Serializer):
    account_no = serializers.CharField(
        max_length=64, help_text="A mobile number or email address at the provider."
    )
    real_name = serializers.CharField(max_length=64)


class WithdrawalSerializer(serializers.ModelSerializer):
    account = serializers.CharField(source="payout_account.masked", read_only=True)

    class Meta:
        model = Withdrawal
        fields = [
            "id",
            "amount_fen",
            "status",
            "automatic",
            "account",
            "reference",
            "failure_reason",
            "created_at",
            "completed_at",
        ]
        read_only_fields = fields


class WithdrawalCreateSerializer(serializers.Serializer):
    amount_fen = serializers.IntegerField(min_value=1, max_value=10**10)


class WalletSerializer(serializers.Serializer):
    staff_id = serializers.IntegerField()
    balance_fen = serializers.IntegerField()
    received_fen = serializers.IntegerField()
    auto_withdraw = serializers.BooleanField()
    can_auto_withdraw = serializers.BooleanField()
    payout_account = PayoutAccountSerializer(allow_null=True)
    packets_to_open = PacketSerializer(many=True)
    pending_withdrawals = WithdrawalSerializer(many=True)


class WalletUpdateSerializer(serializers.Serializer):
    auto_withdraw = serializers.BooleanField()


# --- helpers ----------------------------------------------------------------------------------------


def _records(view, request, account) -> Response:
    q = RecordQuerySerializer(data=request.query_params)
    q.is_valid(raise_exception=True)
    limit = q.validated_data["limit"]
    rows = selectors.account_records(
        brand=view.brand, account=account, limit=limit, before_id=q.validated_data.get("before")
    )
    return Response(
        {
            "results": RecordSerializer(rows, many=True).data,
            "next_before": rows[-1].id if len(rows) == limit else None,
        }
    )


def _wallet_data(brand, staff: Staff) -> dict:
    o = selectors.wallet_overview(brand=brand, staff=staff)
    return WalletSerializer(
        {
            "staff_id": staff.pk,
            "balance_fen": o["balance_fen"],
            "received_fen": o["received_fen"],
            "auto_withdraw": o["auto_withdraw"],
            "can_auto_withdraw": o["can_auto_withdraw"],
            "payout_account": o["payout_account"],
            "packets_to_open": o["to_open"],
            "pending_withdrawals": o["pending_withdrawals"],
        }
    ).data


def _packet_out(brand, staff, packet_id: int) -> dict:
    return PacketDetailSerializer(selectors.packet_get(brand=brand, staff=staff, packet_id=packet_id)).data


# --- pool --------------------------------------------------------------------------------------------


class PoolView(BrandAPIView):
    scopes = {"GET": "redpackets:read"}

    @extend_schema(responses=PoolSerializer, summary="The red packet pool's balance")
    def get(self, request):
        """The pool's balance. Brand admins also see where the rest of the brand's money is."""
        _require_manager(self)
        if self.staff.is_brand_admin:
            return Response(PoolSerializer(selectors.pool_overview(brand=self.brand)).data)
        return Response({"pool_fen": selectors.pool_balance(brand=self.brand)})


class PoolRecordsView(BrandAPIView):
    scopes = {"GET": "redpackets:read"}

    @extend_schema(parameters=[RecordQuerySerializer], responses=RecordPageSerializer)
    def get(self, request):
        """The pool's movements, newest first (brand admins)."""
        _require_admin(self)
        return _records(self, request, selectors.pool_account(brand=self.brand))


class PoolRecordsExportView(BrandAPIView):
    scopes = {"GET": "redpackets:read"}

    @extend_schema(responses={(200, "text/csv"): bytes})
    def get(self, request):
        """Every movement of the pool as CSV (brand admins)."""
        _require_admin(self)
        account = selectors.pool_account(brand=self.brand)
        return exports.csv_response(
            selectors.account_records_all(brand=self.brand, account=account), f"pool-{self.brand.slug}.csv"
        )


class TopUpListView(BrandAPIView):
    scopes = {"GET": "redpackets:read", "POST": "redpackets:write"}
    own_idempotency = True  # reads the Idempotency-Key itself (idempotency.read_key)

    @extend_schema(responses=TopUpSerializer(many=True))
    def get(self, request):
        """Recent top-ups of the pool (brand admins)."""
        _require_admin(self)
        return Response(TopUpSerializer(selectors.topup_list(brand=self.brand), many=True).data)

    @extend_schema(
        request=TopUpCreateSerializer,
        responses={201: TopUpSerializer, 200: TopUpSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    def post(self, request):
        """Start a top-up: pay at ``pay_url``; the pool is credited when the provider confirms."""
        _require_admin(self)
        key = idempotency.read_key(request, self.staff)
        s = TopUpCreateSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        topup = funding.topup_start(
            brand=self.brand,
            staff=self.staff,
            actor=Actor.from_request(request),
            amount_fen=s.validated_data["amount_fen"],
            key=key,
            fingerprint=idempotency.request_fingerprint({"op": "topup", **s.validated_data}),
        )
        return Response(
            TopUpSerializer(topup).data,
            status=idempotency.answer_status(topup),
            headers=idempotency.answer_headers(topup),
        )


class TopUpDetailView(BrandAPIView):
    scopes = {"GET": "redpackets:read"}

    @extend_schema(responses=TopUpSerializer)
    def get(self, request, pk: int):
        _require_admin(self)
        with brand_scope(self.brand):
            topup = get_for_brand_or_404(TopUp, self.brand, pk=pk)
        return Response(TopUpSerializer(topup).data)


# --- packets -----------------------------------------------------------------------------------------


class PacketListView(BrandAPIView):
    scopes = {"GET": "redpackets:read", "POST": "redpackets:write"}
    own_idempotency = True  # reads the Idempotency-Key itself (idempotency.read_key)

    @extend_schema(
        parameters=[
            OpenApiParameter("page", int, description="1-based page of 50"),
        ],
        responses=PacketSerializer(many=True),
    )
    def get(self, request):
        """Packets the caller sent (store managers also see their stores' packets; brand admins all)."""
        _require_manager(self)
        page = page_number(request.query_params.get("page"))
        rows = selectors.packet_list(brand=self.brand, staff=self.staff, limit=50, offset=(page - 1) * 50)
        return Response(PacketSerializer(rows, many=True).data)

    @extend_schema(
        request=PacketSendSerializer,
        responses={201: PacketDetailSerializer, 200: PacketDetailSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    def post(self, request):
        """Send a red packet from the pool (brand admins; store managers to their stores' staff)."""
        _require_manager(self)
        key = idempotency.read_key(request, self.staff)
        s = PacketSendSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        d = s.validated_data
        packet = packets.packet_send(
            brand=self.brand,
            sender=self.staff,
            actor=Actor.from_request(request),
            key=key,
            fingerprint=idempotency.request_fingerprint({"op": "send", **d}),
            **d,
        )
        return Response(
            _packet_out(self.brand, self.staff, packet.pk),
            status=idempotency.answer_status(packet),
            headers=idempotency.answer_headers(packet),
        )


class PacketDetailView(BrandAPIView):
    scopes = {"GET": "redpackets:read"}

    @extend_schema(responses=PacketDetailSerializer)
    def get(self, request, pk: int):
        """A packet's status and its claims so far (its sender, managers and recipients)."""
        return Response(_packet_out(self.brand, self.staff, pk))


class PacketClaimView(BrandAPIView):
    scopes = {}  # staff sessions only
    own_idempotency = True  # reads the Idempotency-Key itself (idempotency.read_key)

    @extend_schema(
        request=None, responses={201: ShareSerializer, 200: ShareSerializer}, parameters=[IDEMPOTENCY_HEADER]
    )
    def post(self, request, pk: int):
        """Claim your share into your wallet (no payout account needed); claiming again answers the same
        share. The answer carries the packet's counters; its list of claims is GET .../packets/{id}/."""
        key = idempotency.read_key(request, self.staff)
        packet = selectors.packet_get(brand=self.brand, staff=self.staff, packet_id=pk)
        share = packets.packet_claim(brand=self.brand, staff=self.staff, packet=packet, key=key)
        # Built from what the claim holds in memory: the packet stays locked until this request
        # commits, so nothing slow may run after the claim.
        data = {
            "packet_id": packet.pk,
            "amount_fen": share.amount_fen,
            "claimed_at": share.claimed_at,
            "already_claimed": share.replayed,
            "packet": share.packet,
        }
        return Response(
            ShareSerializer(data).data,
            status=idempotency.answer_status(share),
            headers=idempotency.answer_headers(share),
        )


# --- the caller's wallet -----------------------------------------------------------------------------


class WalletView(BrandAPIView):
    scopes = {}  # staff sessions only

    @extend_schema(responses=WalletSerializer)
    def get(self, request):
        """Your wallet: balance, packets to open, payout account, withdrawals in progress."""
        return Response(_wallet_data(self.brand, self.staff))

    @extend_schema(request=WalletUpdateSerializer, responses=WalletSerializer)
    def patch(self, request):
        """Switch automatic withdrawal on (after a first withdrawal by hand) or off."""
        s = WalletUpdateSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        accounts.auto_withdraw_set(
            brand=self.brand,
            staff=self.staff,
            actor=Actor.from_request(request),
            on=s.validated_data["auto_withdraw"],
        )
        return Response(_wallet_data(self.brand, self.staff))


class WalletRecordsView(BrandAPIView):
    scopes = {}  # staff sessions only

    @extend_schema(parameters=[RecordQuerySerializer], responses=RecordPageSerializer)
    def get(self, request):
        """Every movement of your wallet, newest first."""
        return _records(self, request, selectors.wallet_account(brand=self.brand, staff=self.staff))


class WalletRecordsExportView(BrandAPIView):
    scopes = {}  # staff sessions only

    @extend_schema(responses={(200, "text/csv"): bytes})
    def get(self, request):
        """Your wallet's movements as CSV."""
        account = selectors.wallet_account(brand=self.brand, staff=self.staff)
        return exports.csv_response(
            selectors.account_records_all(brand=self.brand, account=account),
            f"wallet-{slugify(self.staff.employee_no or str(self.staff.pk))}.csv",
        )


class PayoutAccountView(BrandAPIView):
    scopes = {}  # staff sessions only
    error_statuses = (404,)  # no payout account bound

    @extend_schema(responses=PayoutAccountSerializer)
    def get(self, request):
        """Your bound payout account (404 when none)."""
        bound = accounts.payout_account_get(brand=self.brand, staff=self.staff)
        if bound is None:
            from django.http import Http404

            raise Http404
        return Response(PayoutAccountSerializer(bound).data)

    @extend_schema(request=PayoutAccountBindSerializer, responses=PayoutAccountSerializer)
    def put(self, request):
        """Bind or rebind: the provider checks the account is in your name (your staff record's name)."""
        s = PayoutAccountBindSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        bound = accounts.payout_account_bind(
            brand=self.brand, staff=self.staff, actor=Actor.from_request(request), **s.validated_data
        )
        return Response(PayoutAccountSerializer(bound).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request):
        """Unbind your payout account (automatic withdrawal switches off)."""
        accounts.payout_account_unbind(brand=self.brand, staff=self.staff, actor=Actor.from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WithdrawalListView(BrandAPIView):
    scopes = {}  # staff sessions only
    own_idempotency = True  # reads the Idempotency-Key itself (idempotency.read_key)

    @extend_schema(responses=WithdrawalSerializer(many=True))
    def get(self, request):
        """Your recent withdrawals."""
        return Response(
            WithdrawalSerializer(
                selectors.withdrawal_list(brand=self.brand, staff=self.staff), many=True
            ).data
        )

    @extend_schema(
        request=WithdrawalCreateSerializer,
        responses={201: WithdrawalSerializer, 200: WithdrawalSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    def post(self, request):
        """Withdraw to your bound, verified account. Usually paid at once; the status says when not."""
        key = idempotency.read_key(request, self.staff)
        s = WithdrawalCreateSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        w = withdrawals.withdrawal_request(
            brand=self.brand,
            staff=self.staff,
            amount_fen=s.validated_data["amount_fen"],
            key=key,
            fingerprint=idempotency.request_fingerprint({"op": "withdraw", **s.validated_data}),
        )
        w = (
            selectors.withdrawal_get(brand=self.brand, staff=self.staff, withdrawal_id=w.pk)
            if not w.replayed
            else w
        )
        return Response(
            WithdrawalSerializer(w).data,
            status=idempotency.answer_status(w),
            headers=idempotency.answer_headers(w),
        )


class WithdrawalDetailView(BrandAPIView):
    scopes = {}  # staff sessions only

    @extend_schema(responses=WithdrawalSerializer)
    def get(self, request, pk: int):
        """One withdrawal's status (your own; brand admins: anyone's)."""
        return Response(
            WithdrawalSerializer(
                selectors.withdrawal_get(brand=self.brand, staff=self.staff, withdrawal_id=pk)
            ).data
        )


# --- staff wallets, for brand finance -------------------------------------------------------------------


def _staff(view, staff_id: int) -> Staff:
    _require_admin(view)
    with brand_scope(view.brand):
        return get_for_brand_or_404(Staff, view.brand, pk=staff_id)


class StaffWalletView(BrandAPIView):
    scopes = {"GET": "redpackets:read"}

    @extend_schema(responses=WalletSerializer)
    def get(self, request, staff_id: int):
        """A staff member's wallet (brand admins)."""
        return Response(_wallet_data(self.brand, _staff(self, staff_id)))


class StaffWalletRecordsView(BrandAPIView):
    scopes = {"GET": "redpackets:read"}

    @extend_schema(parameters=[RecordQuerySerializer], responses=RecordPageSerializer)
    def get(self, request, staff_id: int):
        """A staff member's wallet movements (brand admins)."""
        staff = _staff(self, staff_id)
        return _records(self, request, selectors.wallet_account(brand=self.brand, staff=staff))
