from django.contrib import admin

from kameng.core.admin_roles import ReadOnlyRoleAdmin
from kameng.core.roles import Role
from kameng.notifications.models import Notification


@admin.register(Notification)
class NotificationAdmin(ReadOnlyRoleAdmin):
    view_roles = (Role.OPERATOR, Role.SUPPORT)
    list_display = ["created_at", "user", "kind", "subject", "email_status", "read_at"]
    list_filter = ["kind", "email_status"]
    search_fields = ["user__username", "subject"]
    raw_id_fields = ["user"]
