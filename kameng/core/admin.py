from django.contrib import admin

from kameng.accounts.models import Role
from kameng.core.admin_roles import ReadOnlyRoleAdmin
from kameng.core.models import AuditLog, OutboxMessage


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyRoleAdmin):
    view_roles = (Role.OPERATOR, Role.FINANCE, Role.SUPPORT)
    list_display = ["at", "action", "object_type", "object_id", "actor", "source"]
    list_filter = ["source", "action"]
    search_fields = ["object_id", "action"]


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyRoleAdmin):
    list_display = ["id", "topic", "status", "attempts", "available_at", "delivered_at", "last_error"]
    list_filter = ["status", "topic"]
