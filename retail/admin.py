"""Django admin for platform operators. Every admin request runs under an audited RLS bypass."""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin

from retail import services
from retail.events import Actor
from retail.models import AuditLog, Brand, Invitation, Staff, StaffStore, Store, User


@admin.register(Brand)
class BrandAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "status", "created_at"]
    list_filter = ["status"]
    search_fields = ["name", "slug"]
    actions = ["suspend", "reactivate"]

    @admin.action(description="Suspend selected brands")
    def suspend(self, request, queryset):
        for brand in queryset:
            services.brand_set_status(
                brand=brand, actor=Actor.from_request(request), status=Brand.Status.SUSPENDED
            )
        messages.success(request, "Suspended.")

    @admin.action(description="Reactivate selected brands")
    def reactivate(self, request, queryset):
        for brand in queryset:
            services.brand_set_status(
                brand=brand, actor=Actor.from_request(request), status=Brand.Status.ACTIVE
            )
        messages.success(request, "Reactivated.")


@admin.register(User)
class RetailUserAdmin(UserAdmin):
    list_display = ["username", "phone", "display_name", "is_staff", "is_active"]
    search_fields = ["username", "phone", "display_name"]
    fieldsets = UserAdmin.fieldsets + (("Retail", {"fields": ("phone", "display_name")}),)


class StaffStoreInline(admin.TabularInline):
    model = StaffStore
    extra = 0
    raw_id_fields = ["store"]


@admin.register(Staff)
class StaffAdmin(admin.ModelAdmin):
    list_display = ["name", "brand", "role", "status", "user"]
    list_filter = ["brand", "role", "status"]
    search_fields = ["name", "user__phone", "user__username"]
    raw_id_fields = ["user"]
    inlines = [StaffStoreInline]

    def get_queryset(self, request):
        return Staff.unscoped.select_related("brand", "user")


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "brand", "status"]
    list_filter = ["brand", "status"]
    search_fields = ["code", "name"]

    def get_queryset(self, request):
        return Store.unscoped.select_related("brand")


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["staff", "brand", "created_at", "expires_at", "used_at", "revoked_at"]
    readonly_fields = [f.name for f in Invitation._meta.fields]

    def get_queryset(self, request):
        return Invitation.unscoped.select_related("brand", "staff")

    def has_add_permission(self, request):
        return False


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = ["created_at", "brand", "actor", "action", "target_repr", "ip"]
    list_filter = ["action", "brand"]
    readonly_fields = [f.name for f in AuditLog._meta.fields]

    def get_queryset(self, request):
        return AuditLog.unscoped.select_related("brand", "actor")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
