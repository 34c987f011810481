from django.contrib import admin

from kameng.core.admin_roles import ReadOnlyRoleAdmin
from kameng.core.roles import Role
from kameng.payments.models import LedgerEntry, LedgerLine, NotificationLog, Payment, Refund

FINANCE = (Role.FINANCE, Role.OPERATOR)


@admin.register(Payment)
class PaymentAdmin(ReadOnlyRoleAdmin):
    view_roles = FINANCE
    list_display = ["order", "channel", "channel_trade_no", "amount_fen", "paid_at"]
    list_filter = ["channel"]
    search_fields = ["channel_trade_no", "order__order_no"]


@admin.register(Refund)
class RefundAdmin(ReadOnlyRoleAdmin):
    view_roles = FINANCE
    list_display = ["refund_no", "payment", "amount_fen", "reason", "status", "created_at", "succeeded_at"]
    list_filter = ["status", "reason"]


@admin.register(NotificationLog)
class NotificationLogAdmin(ReadOnlyRoleAdmin):
    view_roles = FINANCE
    list_display = [
        "received_at",
        "channel",
        "dedupe_key",
        "kind",
        "accepted",
        "reason",
        "repeats",
        "last_received_at",
    ]
    list_filter = ["channel", "accepted"]


class LedgerLineInline(admin.TabularInline):
    model = LedgerLine
    extra = 0
    can_delete = False
    readonly_fields = ["account", "amount_fen"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyRoleAdmin):
    view_roles = FINANCE
    list_display = ["at", "kind", "reference"]
    list_filter = ["kind"]
    search_fields = ["reference"]
    inlines = [LedgerLineInline]
