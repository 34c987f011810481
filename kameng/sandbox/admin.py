from django.contrib import admin

from kameng.core.admin_roles import ReadOnlyRoleAdmin
from kameng.sandbox.models import SandboxNotification, SandboxRefund, SandboxTrade


@admin.register(SandboxTrade)
class SandboxTradeAdmin(ReadOnlyRoleAdmin):
    list_display = ["out_trade_no", "channel", "trade_no", "amount_fen", "status", "created_at", "paid_at"]
    list_filter = ["channel", "status"]
    search_fields = ["out_trade_no", "trade_no"]


@admin.register(SandboxNotification)
class SandboxNotificationAdmin(ReadOnlyRoleAdmin):
    list_display = ["event_id", "trade", "attempts", "next_attempt_at", "delivered_at", "last_status"]


@admin.register(SandboxRefund)
class SandboxRefundAdmin(ReadOnlyRoleAdmin):
    list_display = ["refund_id", "trade", "out_refund_no", "amount_fen", "created_at"]
