"""Brand dashboard pages: pool, top-ups, sending, packets, staff wallets, exports, limits, checks."""

from django.urls import path

from redpackets.views import dashboard

urlpatterns = [
    path("dashboard/redpackets/", dashboard.pool, name="dash-rp-pool"),
    path("dashboard/redpackets/records/export/", dashboard.pool_export, name="dash-rp-pool-export"),
    path("dashboard/redpackets/reconcile/", dashboard.reconcile_run, name="dash-rp-reconcile"),
    path("dashboard/redpackets/send/", dashboard.send, name="dash-rp-send"),
    path("dashboard/redpackets/packets/", dashboard.packet_list, name="dash-rp-packets"),
    path("dashboard/redpackets/packets/<int:packet_id>/", dashboard.packet_detail, name="dash-rp-packet"),
    path("dashboard/redpackets/wallets/", dashboard.wallet_list, name="dash-rp-wallets"),
    path("dashboard/redpackets/wallets/<int:staff_id>/", dashboard.wallet_detail, name="dash-rp-wallet"),
    path(
        "dashboard/redpackets/wallets/<int:staff_id>/export/",
        dashboard.wallet_export,
        name="dash-rp-wallet-export",
    ),
    path("dashboard/redpackets/settings/", dashboard.settings_page, name="dash-rp-settings"),
]
