"""Read-only Django admin for platform operators: reconciliation runs, withdrawals and packets
of every brand (money is only ever moved by the services, never edited here)."""

from django.contrib import admin

from redpackets.models import Reconciliation, RedPacket, Withdrawal


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Reconciliation)
class ReconciliationAdmin(ReadOnly):
    list_display = ["started_at", "brand", "ok", "problem_count"]
    list_filter = ["ok", "brand"]

    def get_queryset(self, request):
        return Reconciliation.unscoped.select_related("brand")

    @admin.display(description="problems")
    def problem_count(self, obj) -> int:
        return len(obj.problems)


@admin.register(Withdrawal)
class WithdrawalAdmin(ReadOnly):
    list_display = ["reference", "brand", "staff", "amount_fen", "status", "attempts", "created_at"]
    list_filter = ["status", "brand"]
    search_fields = ["reference"]

    def get_queryset(self, request):
        return Withdrawal.unscoped.select_related("brand", "staff")


@admin.register(RedPacket)
class RedPacketAdmin(ReadOnly):
    list_display = [
        "greeting",
        "brand",
        "kind",
        "total_fen",
        "shares",
        "claimed_count",
        "status",
        "created_at",
    ]
    list_filter = ["status", "kind", "brand"]

    def get_queryset(self, request):
        return RedPacket.unscoped.select_related("brand")
