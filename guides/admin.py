"""Read-only Django admin for platform operators (support): settlement periods, statements and
re-attribution runs of every brand. Commission is only ever written by the services."""

from django.contrib import admin

from guides.models import Reattribution, SettlementPeriod, Statement
from redpackets.admin import ReadOnly


@admin.register(SettlementPeriod)
class SettlementPeriodAdmin(ReadOnly):
    list_display = ["label", "brand", "status", "statements", "total_fen", "approved_at", "paid_at"]
    list_filter = ["status", "brand"]

    def get_queryset(self, request):
        return SettlementPeriod.unscoped.select_related("brand")


@admin.register(Statement)
class StatementAdmin(ReadOnly):
    list_display = ["period", "brand", "guide", "orders", "total_fen", "status", "paid_at"]
    list_filter = ["status", "brand"]

    def get_queryset(self, request):
        return Statement.unscoped.select_related("brand", "period", "guide")


@admin.register(Reattribution)
class ReattributionAdmin(ReadOnly):
    list_display = ["created_at", "brand", "start", "end", "status", "orders", "changed", "delta_fen"]
    list_filter = ["status", "brand"]

    def get_queryset(self, request):
        return Reattribution.unscoped.select_related("brand")
