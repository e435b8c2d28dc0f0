"""The red packet REST API (mounted under /api/v1/): the pool and its top-ups, packets and claims,
the caller's wallet, payout account and withdrawals, and staff wallets for brand finance."""

from django.urls import path

from redpackets import api

urlpatterns = [
    path("redpackets/pool/", api.PoolView.as_view(), name="api-rp-pool"),
    path("redpackets/pool/records/", api.PoolRecordsView.as_view(), name="api-rp-pool-records"),
    path("redpackets/pool/records/export/", api.PoolRecordsExportView.as_view(), name="api-rp-pool-export"),
    path("redpackets/pool/top-ups/", api.TopUpListView.as_view(), name="api-rp-topups"),
    path("redpackets/pool/top-ups/<int:pk>/", api.TopUpDetailView.as_view(), name="api-rp-topup"),
    path("redpackets/packets/", api.PacketListView.as_view(), name="api-rp-packets"),
    path("redpackets/packets/<int:pk>/", api.PacketDetailView.as_view(), name="api-rp-packet"),
    path("redpackets/packets/<int:pk>/claim/", api.PacketClaimView.as_view(), name="api-rp-packet-claim"),
    path("redpackets/wallets/<int:staff_id>/", api.StaffWalletView.as_view(), name="api-rp-staff-wallet"),
    path(
        "redpackets/wallets/<int:staff_id>/records/",
        api.StaffWalletRecordsView.as_view(),
        name="api-rp-staff-wallet-records",
    ),
    path("wallet/", api.WalletView.as_view(), name="api-wallet"),
    path("wallet/records/", api.WalletRecordsView.as_view(), name="api-wallet-records"),
    path("wallet/records/export/", api.WalletRecordsExportView.as_view(), name="api-wallet-export"),
    path("wallet/payout-account/", api.PayoutAccountView.as_view(), name="api-wallet-payout-account"),
    path("wallet/withdrawals/", api.WithdrawalListView.as_view(), name="api-wallet-withdrawals"),
    path("wallet/withdrawals/<int:pk>/", api.WithdrawalDetailView.as_view(), name="api-wallet-withdrawal"),
]
