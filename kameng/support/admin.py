from django.contrib import admin

from kameng.core.admin_roles import ReadOnlyRoleAdmin, RoleAdmin
from kameng.core.roles import Role
from kameng.support.models import CalendarDay, Complaint, Ticket


@admin.register(Ticket)
class TicketAdmin(ReadOnlyRoleAdmin):
    """Read-only here: agents work in the queue (/support/queue/), where approving runs the real cancellation."""

    view_roles = (Role.SUPPORT, Role.FINANCE)
    list_display = ["ticket_no", "category", "status", "is_vip", "proof_verified", "due_at", "overdue_at"]
    list_filter = ["status", "category", "is_vip", "proof_verified"]
    search_fields = ["ticket_no", "order_no", "user__username"]


@admin.register(Complaint)
class ComplaintAdmin(RoleAdmin):
    view_roles = (Role.OPERATOR, Role.SUPPORT)
    change_roles = ()
    allow_add = False
    list_display = ["complaint_no", "user", "about", "about_ref", "due_at", "overdue_at", "answered_at"]
    list_filter = ["about", ("overdue_at", admin.EmptyFieldListFilter)]
    readonly_fields = [
        "complaint_no",
        "user",
        "about",
        "about_ref",
        "text",
        "created_at",
        "due_at",
        "answered_at",
    ]


@admin.register(CalendarDay)
class CalendarDayAdmin(RoleAdmin):
    """Holidays and make-up working days for years the holiday package does not know yet."""

    view_roles = (Role.OPERATOR, Role.SUPPORT)
    list_display = ["date", "is_workday", "note"]
