"""Mobile pages: the guide's wallet, and the store manager's send form and packet status."""

from django.urls import path

from redpackets.views import send, wallet

urlpatterns = [
    # Everyone's wallet
    path("m/wallet/", wallet.wallet, name="m-wallet"),
    path("m/wallet/auto/", wallet.auto_withdraw, name="m-wallet-auto"),
    path("m/wallet/packets/<int:packet_id>/", wallet.packet, name="m-wallet-packet"),
    path("m/wallet/records/", wallet.records, name="m-wallet-records"),
    path("m/wallet/records/export/", wallet.records_export, name="m-wallet-records-export"),
    path("m/wallet/account/", wallet.account, name="m-wallet-account"),
    path("m/wallet/account/unbind/", wallet.account_unbind, name="m-wallet-account-unbind"),
    path("m/wallet/withdraw/", wallet.withdraw, name="m-wallet-withdraw"),
    path("m/wallet/withdrawals/<int:withdrawal_id>/", wallet.withdrawal, name="m-wallet-withdrawal"),
    # Store managers and brand admins: sending
    path("m/redpackets/", send.sent, name="m-rp-sent"),
    path("m/redpackets/send/", send.send, name="m-rp-send"),
    path("m/redpackets/<int:packet_id>/", send.packet, name="m-rp-packet"),
]
