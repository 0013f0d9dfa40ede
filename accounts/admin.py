from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.models import AuditEvent, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    """For operators with a superuser account; administrators manage users on the platform's own pages,
    where every role and region change is audited, so those fields are read-only here."""

    list_display = ("username", "role", "region", "is_active", "last_login")
    list_filter = ("role", "is_active")
    readonly_fields = ("role", "region", "is_active", "last_login", "date_joined")
    fieldsets = BaseUserAdmin.fieldsets + (("Platform", {"fields": ("role", "region")}),)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "actor_username", "action", "target_repr")
    list_filter = ("action", "target_type")
    search_fields = ("target_repr", "actor_username")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
