from django.contrib import admin

from kameng.core.admin_roles import ReadOnlyRoleAdmin
from kameng.core.models import AuditLog, OutboxMessage
from kameng.core.outbox import retry_dead
from kameng.core.roles import Role


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyRoleAdmin):
    view_roles = (Role.OPERATOR, Role.FINANCE, Role.SUPPORT)
    list_display = ["at", "action", "object_type", "object_id", "actor", "source"]
    list_filter = ["source", "action"]
    search_fields = ["object_id", "action"]


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyRoleAdmin):
    """Side effects waiting or failed (mail, refunds, unsigns, charges). Dead ones can be sent round again."""

    list_display = ["id", "topic", "status", "attempts", "available_at", "delivered_at", "last_error"]
    list_filter = ["status", "topic"]
    actions = ["retry"]

    @admin.action(description="重新投递所选的失败消息 / retry the selected dead messages")
    def retry(self, request, queryset):
        count = retry_dead(message_ids=list(queryset.values_list("pk", flat=True)), actor=request.user)
        self.message_user(request, f"{count} 条消息已重新排队 / {count} queued again")

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.has_role(Role.OPERATOR):
            actions.pop("retry", None)
        return actions
